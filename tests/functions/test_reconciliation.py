"""ReconcilerFunction: ledger vs Stripe meter summaries, and replay of undelivered Stripe events (issue 5 §3)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import stripe

from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.support import Invoke, load_event, settled_batch

SCHEDULE = load_event("schedule/scheduled_event.json")  # as `sam local generate-event` makes it


def finance_inbox(aws: StackResources) -> str:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="reconciler-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=aws["FinanceTopic"], Protocol="sqs", Endpoint=arn)
    return str(url)


def delivered_batch(aws: StackResources, batch_id: str, kind: str, value: int, occurred: datetime) -> None:
    """A usage record and the meter event our reporter sent (and settled) for it."""
    batch = settled_batch(batch_id, kind, value, int(occurred.timestamp()), customer_id="cus_LocalDemoAcme")
    DynamoDBMeterBatchStore(boto3.resource("dynamodb").Table(aws["UsageBatchesTable"])).save(batch)
    text = occurred.isoformat(timespec="microseconds").replace("+00:00", "Z")
    boto3.resource("dynamodb").Table(aws["UsageTable"]).put_item(
        Item={
            "funder_id": "f1",
            "usage_id": batch_id,
            "kind": kind,
            "quantity": value,
            "occurred_at": text,
            "recorded_at": text,
            "status": "reported",
            "batch_id": batch_id,
        }
    )


def test_discrepancy_is_told_to_finance_once(
    invoke: Invoke, subscribed: dict[str, Any], aws: StackResources, stripe_client: stripe.StripeClient
) -> None:
    inbox = finance_inbox(aws)
    period_start = datetime.now(UTC) - timedelta(hours=1)
    boto3.resource("dynamodb").Table(aws["FundersTable"]).update_item(  # an older period, to compare
        Key={"funder_id": "f1"},
        UpdateExpression="SET subscription.current_period_start = :start",
        ExpressionAttributeValues={":start": int(period_start.timestamp())},
    )
    occurred = datetime.now(UTC) - timedelta(minutes=30)
    stripe_client.v1.billing.meter_events.create(
        {
            "event_name": "incytes_case",
            "payload": {"stripe_customer_id": "cus_LocalDemoAcme", "value": "5"},
            "identifier": "reconcile-case-1",
            "timestamp": int(occurred.timestamp()),
        }
    )
    delivered_batch(aws, "c1", "case", 5, occurred)  # matches Stripe
    delivered_batch(aws, "s1", "sms", 3, occurred)  # Stripe never got it

    report = invoke("ReconcilerFunction", SCHEDULE)
    assert report["compared"] == 2
    (found,) = report["discrepancies"]
    assert (found["kind"], found["ledger"], found["stripe"]) == ("sms", 3, 0)
    invoke("ReconcilerFunction", SCHEDULE)  # the same discrepancy again: no second message

    messages = boto3.client("sqs").receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    notices = [json.loads(m["Body"]) for m in messages]
    assert [n["MessageAttributes"]["event_type"]["Value"] for n in notices] == ["usage.discrepancy"]


def test_undelivered_stripe_events_are_replayed_into_the_pipeline(
    invoke: Invoke, aws: StackResources, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    stripe_emulator.add_webhook_endpoint("http://127.0.0.1:9/unreachable", "whsec_elsewhere")
    customer = stripe_client.v1.customers.create({"name": "Missed"})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not stripe_emulator.webhook_deliveries():
        time.sleep(0.05)  # the first (failing) attempt

    report = invoke("ReconcilerFunction", SCHEDULE)
    assert report["replayed"] >= 1
    stored = boto3.resource("dynamodb").Table(aws["StripeEventsTable"]).scan()["Items"]
    created = [e for e in stored if e["type"] == "customer.created"]
    assert created
    assert json.loads(str(created[0]["payload"]))["data"]["object"]["id"] == customer.id
    assert invoke("ReconcilerFunction", SCHEDULE)["replayed"] == 0  # already stored: not again
