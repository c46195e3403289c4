"""UsageFunction: recording usage durably, once, without Stripe (issue 5 §1, §3)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local_stack.template.intrinsics import StackResources
from local_stack.usage_event import dated_now
from stripe_emulator import StripeEmulator
from tests.support import PROJECT_ROOT, Invoke, load_event

FUNCTION = "UsageFunction"


def now_text(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def usage_event(**body: Any) -> dict[str, Any]:
    event = load_event("usage/post_usage.json")
    record = {**json.loads(event["body"]), "occurred_at": now_text(), **body}
    event["body"] = json.dumps(record)
    return event


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@pytest.fixture
def funder(invoke: Invoke) -> str:
    assert invoke("FundersFunction", load_event("funders/put_funder.json"))["statusCode"] == 200
    return "f1"


def ledger(aws: StackResources) -> list[dict[str, Any]]:
    return boto3.resource("dynamodb").Table(aws["UsageTable"]).scan()["Items"]


def test_record_is_durable_before_202_and_replays_are_harmless(
    invoke: Invoke, funder: str, aws: StackResources, stripe_emulator: StripeEmulator
) -> None:
    stripe_emulator.clear_requests_log()
    event = usage_event()
    accepted = invoke(FUNCTION, event)
    assert accepted["statusCode"] == 202, accepted["body"]
    assert body_of(accepted)["status"] == "accepted"
    (stored,) = ledger(aws)
    assert (stored["usage_id"], stored["kind"], stored["quantity"], stored["status"]) == (
        "case-000123",
        "case",
        1,
        "pending",
    )
    assert stored["occurred_at"].endswith("Z")  # kept in UTC

    replay = invoke(FUNCTION, event)
    assert (replay["statusCode"], body_of(replay)["status"]) == (200, "duplicate")
    conflict = invoke(FUNCTION, usage_event(quantity=2, occurred_at=json.loads(event["body"])["occurred_at"]))
    assert (conflict["statusCode"], body_of(conflict)["error"]["code"]) == (409, "usage_conflict")
    assert len(ledger(aws)) == 1
    assert stripe_emulator.requests_log() == []  # inCytes never waits on Stripe


# Offsets, not times: a time computed at collection is no longer "10 minutes ahead" when a long run reaches it.
@pytest.mark.parametrize("offset", [-timedelta(days=36), timedelta(minutes=10)], ids=["too-old", "future"])
def test_outside_stripes_window_is_422(invoke: Invoke, funder: str, offset: timedelta) -> None:
    response = invoke(FUNCTION, usage_event(occurred_at=now_text(offset)))
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (422, "usage_out_of_window")


@pytest.mark.parametrize(
    "change",
    [
        {"usage_id": "has space"},
        {"usage_id": "x" * 129},
        {"kind": "email"},
        {"quantity": 0},
        {"quantity": 100_001},
        {"quantity": "1"},
        {"occurred_at": "2026-11-25T12:00:00"},  # no offset: not RFC 3339
        {"occurred_at": 1795608000},  # unix seconds: not RFC 3339 either, though pydantic would read them
        {"occurred_at": "1795608000"},
        {"occurred_at": "2026-11-25"},
        {"extra": True},
    ],
)
def test_bad_records_are_422(invoke: Invoke, funder: str, change: dict[str, Any]) -> None:
    response = invoke(FUNCTION, usage_event(**change))
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (422, "validation_error")


def test_unix_seconds_are_a_validation_error_naming_the_contract(invoke: Invoke, funder: str) -> None:
    seconds = int(datetime.now(UTC).timestamp())  # in Stripe's window: only the form is wrong
    response = invoke(FUNCTION, usage_event(occurred_at=seconds))

    error = body_of(response)["error"]
    assert (response["statusCode"], error["code"]) == (422, "validation_error")
    (detail,) = error["details"]
    assert (detail["location"], detail["field"], detail["type"]) == ("body", "occurred_at", "rfc3339_datetime")
    assert "RFC 3339" in error["message"]


def totals_event(**query: str) -> dict[str, Any]:
    event = load_event("usage/get_usage.json")
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    return event


def test_totals_with_from_after_to_are_422(invoke: Invoke, funder: str) -> None:
    response = invoke(FUNCTION, totals_event(**{"from": "2026-12-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}))

    error = body_of(response)["error"]
    assert (response["statusCode"], error["code"]) == (422, "validation_error")
    assert error["message"] == "The request is invalid: from: must not be after to (2026-11-01T00:00:00+00:00)."
    assert [(d["location"], d["field"]) for d in error["details"]] == [("query", "from")]
    same = invoke(FUNCTION, totals_event(**{"from": "2026-12-01T00:00:00Z", "to": "2026-12-01T01:00:00+01:00"}))
    assert same["statusCode"] == 200, same["body"]  # the same instant: an empty range, not a reversed one


@pytest.mark.parametrize("bound", ["from", "to"])
@pytest.mark.parametrize("value", ["1795608000", "2026-11-01T00:00:00", "yesterday"])
def test_totals_bounds_must_be_rfc_3339_with_an_offset(invoke: Invoke, funder: str, bound: str, value: str) -> None:
    response = invoke(FUNCTION, totals_event(**{bound: value}))

    error = body_of(response)["error"]
    assert (response["statusCode"], error["code"]) == (422, "validation_error")
    assert [(d["location"], d["field"]) for d in error["details"]] == [("query", bound)]


def test_unknown_funder_is_404(invoke: Invoke) -> None:
    response = invoke(FUNCTION, usage_event())
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (404, "funder_not_found")


def test_batch_answers_per_record(invoke: Invoke, funder: str, aws: StackResources) -> None:
    event = load_event("usage/post_usage_batch.json")
    records = json.loads(event["body"])["records"]
    records = [{**record, "occurred_at": now_text()} for record in records]
    records += [
        {**records[0]},  # duplicate of the first
        {**records[1], "quantity": 7},  # conflict
        {"funder_id": "nobody", "usage_id": "u1", "kind": "sms", "quantity": 1, "occurred_at": now_text()},
        {"funder_id": "f1", "usage_id": "u2", "kind": "fax", "quantity": 1, "occurred_at": now_text()},
        "not an object",
    ]
    event["body"] = json.dumps({"records": records})
    response = invoke(FUNCTION, event)
    assert response["statusCode"] == 200, response["body"]
    results = body_of(response)["results"]
    assert [r["status"] for r in results] == [
        "accepted",
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [r.get("error", {}).get("code") for r in results[3:]] == [
        "usage_conflict",
        "funder_not_found",
        "validation_error",
        "validation_error",
    ]
    assert len(ledger(aws)) == 2


@pytest.mark.parametrize("body", [{"records": []}, {"records": [{}] * 101}, {"records": "x"}, {}, []])
def test_malformed_batch_is_422(invoke: Invoke, body: Any) -> None:
    event = load_event("usage/post_usage_batch.json")
    event["body"] = json.dumps(body)
    response = invoke(FUNCTION, event)
    assert (response["statusCode"], body_of(response)["error"]["code"]) == (422, "validation_error")


def test_totals_per_kind(invoke: Invoke, funder: str, aws: StackResources) -> None:
    invoke(FUNCTION, usage_event(usage_id="c1", quantity=2))
    invoke(FUNCTION, usage_event(usage_id="s1", kind="sms", quantity=5))
    invoke(FUNCTION, usage_event(usage_id="s2", kind="sms", quantity=1, occurred_at=now_text(-timedelta(days=3))))
    table = boto3.resource("dynamodb").Table(aws["UsageTable"])
    table.update_item(
        Key={"funder_id": "f1", "usage_id": "s1"},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": "reported"},
    )
    event = load_event("usage/get_usage.json")
    event["queryStringParameters"] = {"from": now_text(-timedelta(days=1)), "to": now_text(timedelta(hours=1))}
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in event["queryStringParameters"].items()}
    totals = body_of(invoke(FUNCTION, event))["totals"]
    assert totals["case"] == {"recorded": 2, "pending": 2, "reported": 0, "failed": 0, "unbillable": 0}
    assert totals["sms"] == {"recorded": 5, "pending": 0, "reported": 5, "failed": 0, "unbillable": 0}
    everything = load_event("usage/get_usage.json")
    everything["queryStringParameters"] = everything["multiValueQueryStringParameters"] = None
    assert body_of(invoke(FUNCTION, everything))["totals"]["sms"]["recorded"] == 6


def test_the_ingest_path_does_not_import_stripe() -> None:
    """Cold start: recording usage must not pay for `import stripe`."""
    code = "import sys; sys.path[:0] = ['functions/usage', 'layers/shared']; import app; print('stripe' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("sample", ["usage/post_usage.json", "usage/post_usage_batch.json"])
def test_make_usage_event_dates_the_samples_now(invoke: Invoke, funder: str, sample: str) -> None:
    """`make usage-event` (local_stack.usage_event): the stored samples are dated; dated now, they are accepted."""
    response = invoke(FUNCTION, dated_now(load_event(sample)))
    if "batch" in sample:
        assert {result["status"] for result in body_of(response)["results"]} == {"accepted"}
    else:
        assert response["statusCode"] == 202, response["body"]
