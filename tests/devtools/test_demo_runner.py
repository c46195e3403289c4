"""`python -m demo` without a stack: the runner stops at the failing step and names it, the stack it started is
stopped whatever happens, and what Finance's inbox holds is read as an email subscription would get it."""

from __future__ import annotations

import io
import json
from typing import Any, ClassVar

import pytest

import demo.__main__ as demo_main
from demo.story import Narrator, Step, StepFailed, Story, finance_message, money, run_steps


def _narrated(steps: list[Step]) -> tuple[int, str]:
    out = io.StringIO()
    return run_steps(steps, Narrator(out)), out.getvalue()


def test_the_runner_stops_at_the_first_failing_step_and_names_it() -> None:
    ran: list[str] = []

    def fails() -> None:
        raise StepFailed("the invoice is open, not a draft")

    code, output = _narrated(
        [Step("first", lambda: ran.append("first")), Step("second", fails), Step("third", lambda: ran.append("third"))]
    )
    assert code == 1
    assert ran == ["first"]
    assert "FAILED at step 2 (second): the invoice is open, not a draft" in output
    assert "All" not in output


def test_a_skipped_step_is_said_and_does_not_fail() -> None:
    code, output = _narrated([Step("first", lambda: None), Step("clock", lambda: "no clock in test mode")])
    assert code == 0
    assert "skipped: no clock in test mode" in output
    assert "1 steps showed what they should; skipped: 2" in output


class _FakeStack:
    started = stopped = 0
    given: ClassVar[dict[str, Any]] = {}

    def __init__(self, **given: Any) -> None:
        _FakeStack.given = given
        self.api_url = self.aws_url = self.stripe_url = "http://127.0.0.1:1"
        self.stderr_lines = ["a line of the stack's log"]

    def start(self) -> _FakeStack:
        _FakeStack.started += 1
        return self

    def stop(self) -> int:
        _FakeStack.stopped += 1
        return 0


@pytest.mark.parametrize("outcome", ["fails", "raises"])
def test_the_stack_it_started_is_stopped_in_every_case(
    outcome: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def step() -> None:
        raise StepFailed("wrong") if outcome == "fails" else KeyboardInterrupt

    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.setattr(demo_main, "LocalStackProcess", _FakeStack)
    monkeypatch.setattr(Story, "__init__", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(Story, "steps", lambda self: [Step("the only step", step)])
    _FakeStack.started = _FakeStack.stopped = 0
    if outcome == "fails":
        assert demo_main.main([]) == 1
        assert "FAILED at step 1 (the only step): wrong" in capsys.readouterr().out
    else:
        with pytest.raises(KeyboardInterrupt):
            demo_main.main([])
    assert (_FakeStack.started, _FakeStack.stopped) == (1, 1)


def test_money_as_a_newcomer_reads_it() -> None:
    assert money(3500, "usd") == "$35.00"
    assert money("5", "eur") == "€0.05"
    assert money("0.5", "usd") == "$0.005"
    assert money(-10472, "usd") == "-$104.72"
    assert money(123456, "gbp") == "1,234.56 GBP"


def test_finance_messages_as_an_email_subscription_gets_them() -> None:
    structure = {"default": json.dumps({"invoice": {"invoice_id": "in_1"}}), "email": "Please review in_1."}
    envelope = {
        "MessageId": "m1",
        "Subject": "Invoice to review",
        "Message": json.dumps(structure),
        "MessageAttributes": {"event_type": {"Type": "String", "Value": "invoice.review_requested"}},
    }
    message = finance_message(envelope)
    assert (message.email, message.data, message.event_type) == (
        "Please review in_1.",
        {"invoice": {"invoice_id": "in_1"}},
        "invoice.review_requested",
    )
    # What an SQS subscription gets of that structure: its `default`, the JSON for machines (no email text).
    queued = finance_message({**envelope, "Message": structure["default"]})
    assert (queued.email, queued.data) == (None, {"invoice": {"invoice_id": "in_1"}})
    assert finance_message({**envelope, "Message": "plain text"}).email == "plain text"


def test_a_live_key_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_123")
    monkeypatch.setattr(demo_main, "LocalStackProcess", _FakeStack)
    _FakeStack.started = 0
    assert demo_main.main([]) == 2
    assert _FakeStack.started == 0


def test_on_stripes_test_mode_the_stack_gets_the_key_and_a_known_port_and_the_clock_step_is_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_123")
    monkeypatch.delenv("LOCAL_API_PORT", raising=False)
    monkeypatch.setattr(demo_main, "LocalStackProcess", _FakeStack)
    monkeypatch.setattr(Story, "steps", lambda self: [Step("the month closes", self.renew)])
    assert demo_main.main([]) == 0
    assert _FakeStack.given["env"] == {"STRIPE_API_KEY": "sk_test_123", "LOCAL_API_PORT": "3000"}
    output = capsys.readouterr().out
    assert "skipped: Stripe's test mode has no clock this demo may move" in output
