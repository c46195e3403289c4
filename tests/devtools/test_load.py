"""`make load` (`python -m load`): the mix is repeatable, and a tiny run on a fresh local stack passes its audit —
through a Stripe 429 window — and reports every section docs/capacity.md reads."""

from __future__ import annotations

import random
from pathlib import Path

import load.__main__ as load_main
import pytest
from load.mix import MixSettings, usage_items, usage_requests
from load.report import percentile
from load.run import endpoint

SECTIONS = (
    "## Ingest",
    "## The reporter: lag behind ingest, and the backlog under Stripe 429s",
    "## Stripe requests during ingest and drain",
    "## Renewal day: every funder's period ends at once",
    "## Finance messages",
    "## Audit",
)


def _requests(seed: int) -> list[tuple[str, tuple[str, ...]]]:
    settings = MixSettings(records=300, single_share=0.5, duplicate_share=0.1)
    rng = random.Random(seed)
    items = usage_items(rng, ["f1", "f2", "f3"], settings)
    return [(r.route, tuple(i.usage_id for i in r.items)) for r in usage_requests(rng, items, settings)]


def test_the_mix_is_the_same_for_a_seed_and_sends_every_record_with_some_twice() -> None:
    requests = _requests(15)
    assert requests == _requests(15)
    assert requests != _requests(16)
    sent = [usage_id for _, usage_ids in requests for usage_id in usage_ids]
    assert set(sent) == {f"load-{n:06d}" for n in range(300)}
    assert len(sent) == 300 + 30  # the duplicates, as inCytes retries
    assert {route for route, _ in requests} == {"single", "batch"}
    assert max(len(usage_ids) for _, usage_ids in requests) <= 100  # POST /usage's limit


def test_stripe_request_paths_are_counted_per_endpoint() -> None:
    assert endpoint("/v1/billing/meter_events") == "/v1/billing/meter_events"
    assert endpoint("/v1/invoices/in_1AbcdEfghIjkl/finalize") == "/v1/invoices/{id}/finalize"
    assert endpoint("/v1/subscription_schedules/sub_sched_1AbcdEfghIjkl") == "/v1/subscription_schedules/{id}"


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([3.0], 0.99)) == (50.0, 99.0, 3.0)


@pytest.mark.e2e
def test_a_tiny_load_run_passes_its_audit_through_a_stripe_429_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.md"
    arguments = ["--funders", "2", "--records", "50", "--stripe-429", "2", "--seconds", "60", "--out", str(out)]
    code = load_main.main(arguments)
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    report = out.read_text()
    assert report.strip() == printed.out.strip()
    for section in SECTIONS:
        assert section in report, section
    assert "**Audit passed.**" in report
    assert "FAIL" not in report
    assert "meter event requests with 429" in report
