"""Usage billed exactly once through Stripe meters: UsageFunction -> UsageTable stream -> UsageReporterFunction
-> the emulator's meter events (issue 5 §2), in-process with the same event source the local stack runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.stream_source import DynamoDBStreamSource, dynamodb_stream_sources, streams_client
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.functions.usage_support import OCCURRED_DELAY, meter_requests, meter_total, record, statuses
from tests.support import EMULATOR_API_KEY, Invoke, load_event, template

REPORTER = "UsageReporterFunction"


def test_usage_is_aggregated_and_billed_once(
    invoke: Invoke,
    subscribed: dict[str, Any],
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    aws: StackResources,
) -> None:
    when = datetime.now(UTC) + OCCURRED_DELAY
    for i in range(30):
        record(invoke, f"u{i}", "case" if i % 3 else "sms", 1 + i % 2, when)
    record(invoke, "u0", "sms", 1, when)  # a duplicate submission
    stripe_emulator.clear_requests_log()

    stream.drain()

    assert meter_requests(stripe_emulator) == 2  # one aggregated meter event per kind
    cases = sum(1 + i % 2 for i in range(30) if i % 3)
    sms = sum(1 + i % 2 for i in range(30) if not i % 3)
    assert meter_total(stripe_client, "incytes_case", "cus_LocalDemoAcme") == cases
    assert meter_total(stripe_client, "incytes_sms", "cus_LocalDemoAcme") == sms
    assert set(statuses(aws).values()) == {"reported"}

    # The same stream read again (a redelivery): nothing is billed twice.
    (again,) = dynamodb_stream_sources(template(), aws, invoke, streams_client())
    again.drain()
    assert meter_requests(stripe_emulator) == 2
    unbounded = {"queryStringParameters": None, "multiValueQueryStringParameters": None}  # the sample's are dated
    totals = invoke("UsageFunction", load_event("usage/get_usage.json") | unbounded)
    assert json.loads(totals["body"])["totals"]["case"]["reported"] == cases


def test_stripe_failure_is_retried_from_the_saved_batch(
    invoke: Invoke,
    subscribed: dict[str, Any],
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    record(invoke, "a", "case", 4, datetime.now(UTC) + OCCURRED_DELAY)
    stripe_emulator.inject_fault(path_prefix="/v1/billing/meter_events", status=500, count=1)
    stream.drain()  # the first attempt fails: the stream position stays on the record
    stream.drain()
    assert meter_total(stripe_client, "incytes_case", "cus_LocalDemoAcme") == 4


def test_usage_without_a_subscription_waits_then_is_redriven(
    invoke: Invoke,
    stripe_api: str,
    demo_customer: str,
    stream: DynamoDBStreamSource,
    aws: StackResources,
    pipeline: Pipeline,
) -> None:
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    assert invoke("FundersFunction", load_event("funders/put_funder_linked.json"))["statusCode"] == 200
    record(invoke, "early", "sms", 2, datetime.now(UTC) - timedelta(minutes=1))
    stream.drain()
    assert statuses(aws) == {"early": "pending"}  # waits for a subscription

    response = invoke("SubscriptionsFunction", load_event("subscriptions/post_subscription.json"))
    assert response["statusCode"] == 201
    pipeline.finance_messages()  # the first invoice's review notice
    invoke(REPORTER, load_event("schedule/scheduled_event.json"))
    # It occurred before the subscription started: kept, shown to Finance, never billed.
    assert statuses(aws) == {"early": "unbillable"}
    (notice,) = pipeline.finance_messages()
    assert notice["MessageAttributes"]["event_type"]["Value"] == "usage.unbillable"
    message = json.loads(notice["Message"])
    assert (message["funder_id"], message["usage_ids"], message["quantity"]) == ("f1", ["early"], 2)
    invoke(REPORTER, load_event("schedule/scheduled_event.json"))
    assert pipeline.finance_messages() == []  # told once


def test_the_sample_stream_event_triggers_a_report(
    invoke: Invoke, subscribed: dict[str, Any], stripe_client: stripe.StripeClient, aws: StackResources
) -> None:
    """events/usage_reporter/new_usage.json, as `sam local invoke UsageReporterFunction -e` would pass it: the
    stream record names the funder; the ledger says what is pending."""
    record(invoke, "u1", "case", 3, datetime.now(UTC) + OCCURRED_DELAY)
    result = invoke(REPORTER, load_event("usage_reporter/new_usage.json"))
    assert result == {"batchItemFailures": []}
    assert statuses(aws) == {"u1": "reported"}
    assert meter_total(stripe_client, "incytes_case", "cus_LocalDemoAcme") == 3
