"""The v2 meter event stream mode (MeterEventMode=stream, issue 5 §2): usage streamed 100 events a request,
validated asynchronously by Stripe; its refusals arrive as `v1.billing.meter.error_report_triggered` thin
events through the webhook pipeline and fail exactly the records of the batches they name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.stream_source import DynamoDBStreamSource
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.functions.usage_support import OCCURRED_DELAY, meter_total, record, statuses
from tests.support import EMULATOR_API_KEY, Invoke, load_event, meter_error_reports, usage_ready_funders

STREAM_PATH = "/v2/billing/meter_event_stream"


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"MeterEventMode": "stream"}


def stream_requests(emulator: StripeEmulator) -> int:
    return sum(1 for entry in emulator.requests_log() if entry["path"] == STREAM_PATH)


def batch_items(aws: StackResources) -> list[dict[str, Any]]:
    return list(boto3.resource("dynamodb").Table(aws["UsageBatchesTable"]).scan()["Items"])


def test_usage_is_streamed_and_stays_pending_until_confirmed(
    invoke: Invoke,
    subscribed: dict[str, Any],
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    aws: StackResources,
) -> None:
    when = datetime.now(UTC) + OCCURRED_DELAY
    for i in range(20):
        record(invoke, f"u{i}", "case" if i % 2 else "sms", 2, when)
    stripe_emulator.clear_requests_log()

    stream.drain()

    assert stream_requests(stripe_emulator) == 1  # both kinds' meter events in one stream request
    assert sum(1 for e in stripe_emulator.requests_log() if e["path"] == "/v1/billing/meter_events") == 0
    assert meter_total(stripe_client, "incytes_case", "cus_LocalDemoAcme") == 20  # Stripe counted them
    # ...but only Stripe's later validation says so: the ledger keeps them pending until it is confirmed.
    assert set(statuses(aws).values()) == {"pending"}
    assert {item["status"] for item in batch_items(aws)} == {"streamed"}
    unbounded = {"queryStringParameters": None, "multiValueQueryStringParameters": None}
    totals = json.loads(invoke("UsageFunction", load_event("usage/get_usage.json") | unbounded)["body"])["totals"]
    assert (totals["case"]["pending"], totals["case"]["reported"]) == (20, 0)

    scheduled = invoke("UsageReporterFunction", load_event("schedule/scheduled_event.json"))
    assert scheduled["streamed"] == 20  # the re-drive streams nothing twice
    assert stream_requests(stripe_emulator) == 1


def test_error_report_fails_the_records_of_the_refused_batch(
    invoke: Invoke,
    subscribed: dict[str, Any],
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    pipeline: Pipeline,
    aws: StackResources,
) -> None:
    record(invoke, "c1", "case", 4, datetime.now(UTC) + OCCURRED_DELAY)
    # The customer is deleted in Stripe and we have not heard yet: the stream takes the event, Stripe refuses it.
    stripe_client.v1.customers.delete("cus_LocalDemoAcme")
    stream.drain()
    (report,) = meter_error_reports(stripe_client, stripe_emulator)
    codes = [error["code"] for error in report["data"]["reason"]["error_types"]]
    assert codes == ["meter_event_customer_not_found"]

    pipeline.deliver_thin(report)
    pipeline.deliver_thin(report)  # a redelivery is harmless
    pipeline.process()

    assert pipeline.event_status(report["id"]) == "processed"
    item = boto3.resource("dynamodb").Table(aws["UsageTable"]).get_item(Key={"funder_id": "f1", "usage_id": "c1"})
    assert item["Item"]["status"] == "failed"
    assert "meter_event_customer_not_found" in str(item["Item"]["reason"])
    (batch,) = batch_items(aws)
    assert (batch["status"], batch["outcome"]) == ("settled", "refused")


def test_reconciler_settles_what_error_reports_could_not_name(
    invoke: Invoke,
    stripe_api: str,
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    pipeline: Pipeline,
    aws: StackResources,
) -> None:
    """Seven funders' customers are deleted behind our back, an eighth is fine. Stripe's one error report names
    five of the seven refused events (its samples); the reconciler finds the other two missing from the meter
    summaries and fails them, and confirms the eighth: 0 lost, 0 reported as billed when it was not."""
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    funders_table = boto3.resource("dynamodb").Table(aws["FundersTable"])
    customers = usage_ready_funders(funders_table, stripe_client, 8, started=datetime.now(UTC) - timedelta(days=1))
    for n in range(7):
        stripe_client.v1.customers.delete(customers[f"f{n}"])
    when = datetime.now(UTC)
    for n in range(8):
        record(invoke, f"u{n}", "case", n + 1, when, funder_id=f"f{n}")
    stream.drain()
    (report,) = meter_error_reports(stripe_client, stripe_emulator)
    assert report["data"]["reason"]["error_count"] == 7
    pipeline.deliver_thin(report)
    pipeline.process()
    assert sorted(statuses(aws).values()) == ["failed"] * 5 + ["pending"] * 3  # samples name five of seven

    batches = boto3.resource("dynamodb").Table(aws["UsageBatchesTable"])
    an_hour_ago = int((datetime.now(UTC) - timedelta(minutes=61)).timestamp())
    for item in batch_items(aws):  # the summaries' lag and the stream's verdict time have passed
        batches.update_item(
            Key={"batch_id": item["batch_id"]},
            UpdateExpression="SET sent_at = :at",
            ExpressionAttributeValues={":at": an_hour_ago},
        )
    outcome = invoke("ReconcilerFunction", load_event("schedule/scheduled_event.json"))

    assert (outcome["batches"]["confirmed"], outcome["batches"]["refused"]) == (1, 2)
    assert statuses(aws) == {f"u{n}": "failed" for n in range(7)} | {"u7": "reported"}
    assert meter_total(stripe_client, "incytes_case", customers["f7"]) == 8
    assert outcome["discrepancies"] == []
