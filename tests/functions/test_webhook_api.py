"""WebhookFunction: signature cases, durable storage before the ack, duplicates (issue 4 §1, §5)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Literal

import boto3
import pytest

from incytes_billing.adapters.dynamodb_events import DynamoDBStripeEventStore
from incytes_billing.models.events import VerifiedEvent
from local_stack.template.intrinsics import StackResources
from local_stack.webhook_event import signed
from stripe_emulator.signing import signature_header
from tests.support import WEBHOOK_SECRETS, Invoke, load_event

FUNCTION = "WebhookFunction"
CURRENT, PREVIOUS = WEBHOOK_SECRETS


def webhook(
    name: str = "invoice_created.json", *, secret: str = CURRENT, timestamp: int | None = None
) -> dict[str, Any]:
    return signed(load_event(f"webhook/{name}"), secret, timestamp)


def with_signature(event: dict[str, Any], header: str | None) -> dict[str, Any]:
    headers = {k: v for k, v in event["headers"].items() if k != "Stripe-Signature"}
    multi = {k: v for k, v in event["multiValueHeaders"].items() if k != "Stripe-Signature"}
    if header is not None:
        headers["Stripe-Signature"] = header
        multi["Stripe-Signature"] = [header]
    return {**event, "headers": headers, "multiValueHeaders": multi}


def stored_events(aws: StackResources) -> list[dict[str, Any]]:
    return boto3.resource("dynamodb").Table(aws["StripeEventsTable"]).scan()["Items"]


def queued_ids(aws: StackResources) -> list[str]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws["StripeEventsQueue"], MaxNumberOfMessages=10).get("Messages", [])
    return [message["Body"] for message in messages]


def assert_rejected(response: dict[str, Any], code: str) -> None:
    assert response["statusCode"] == 400, response["body"]
    assert json.loads(response["body"])["error"]["code"] == code


def test_valid_delivery_is_stored_queued_and_acknowledged(invoke: Invoke, aws: StackResources) -> None:
    response = invoke(FUNCTION, webhook())
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"]) == {
        "received": True,
        "event_id": "evt_1SampleInvoiceCreated",
        "duplicate": False,
    }
    (stored,) = stored_events(aws)
    assert (stored["event_id"], stored["type"], stored["status"], stored["kind"]) == (
        "evt_1SampleInvoiceCreated",
        "invoice.created",
        "received",
        "snapshot",
    )
    assert stored["payload"] == load_event("webhook/invoice_created.json")["body"]  # verbatim
    assert queued_ids(aws) == ["evt_1SampleInvoiceCreated"]


def test_duplicate_delivery_is_200_and_changes_nothing(invoke: Invoke, aws: StackResources) -> None:
    invoke(FUNCTION, webhook())
    boto3.resource("dynamodb").Table(aws["StripeEventsTable"]).update_item(
        Key={"event_id": "evt_1SampleInvoiceCreated"},
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": "processed"},
    )
    queued_ids(aws)  # drain
    again = invoke(FUNCTION, webhook())
    assert again["statusCode"] == 200
    assert json.loads(again["body"])["duplicate"] is True
    assert len(stored_events(aws)) == 1
    assert stored_events(aws)[0]["status"] == "processed"


def queue_depth(aws: StackResources) -> int:
    """Messages in the queue, visible or in flight."""
    names: list[Literal["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]] = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ]
    found = boto3.client("sqs").get_queue_attributes(QueueUrl=aws["StripeEventsQueue"], AttributeNames=names)
    return sum(int(found["Attributes"][name]) for name in names)


def test_repeat_deliveries_of_an_unprocessed_event_keep_one_message_in_flight(
    invoke: Invoke, aws: StackResources
) -> None:
    """Ten deliveries of an event not applied yet: one message, not ten in flight (and ten dead-letter copies)."""
    for _ in range(10):
        assert invoke(FUNCTION, webhook())["statusCode"] == 200
    assert queue_depth(aws) == 1


def test_redelivery_of_an_event_whose_hand_off_was_lost_is_queued_again(invoke: Invoke, aws: StackResources) -> None:
    """A hand-off lost after the write is mended by Stripe's retry; a message handed off longer ago than the
    processor's longest backoff (lost, or dead-lettered) is re-driven by the next delivery."""
    table = boto3.resource("dynamodb").Table(aws["StripeEventsTable"])
    body = load_event("webhook/invoice_created.json")["body"]
    stored = json.loads(body)
    lost = VerifiedEvent(stored["id"], stored["type"], stored["created"], "snapshot", False, None, body)
    DynamoDBStripeEventStore(table).insert(lost, received_at=int(time.time()))  # written; died before queueing

    invoke(FUNCTION, webhook())
    assert queued_ids(aws) == ["evt_1SampleInvoiceCreated"]

    invoke(FUNCTION, webhook())
    assert queue_depth(aws) == 1  # handed off just now: not again
    table.update_item(  # the hand-off is older than the longest backoff
        Key={"event_id": "evt_1SampleInvoiceCreated"},
        UpdateExpression="SET requeue_after = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    invoke(FUNCTION, webhook())
    assert queue_depth(aws) == 2


def test_previous_secret_still_accepted_during_rotation(invoke: Invoke) -> None:
    assert invoke(FUNCTION, webhook(secret=PREVIOUS))["statusCode"] == 200


def test_several_v1_signatures_one_valid(invoke: Invoke) -> None:
    event = load_event("webhook/invoice_created.json")
    header = signature_header(event["body"], "whsec_unknown", CURRENT)
    assert invoke(FUNCTION, with_signature(event, header))["statusCode"] == 200


def test_base64_body_as_api_gateway_may_send_it(invoke: Invoke) -> None:
    event = webhook()
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert invoke(FUNCTION, event)["statusCode"] == 200


@pytest.mark.parametrize(
    "case",
    ["tampered", "wrong_secret", "expired", "far_future", "missing", "malformed"],
)
def test_bad_signatures_are_400_and_nothing_is_stored(invoke: Invoke, aws: StackResources, case: str) -> None:
    event = load_event("webhook/invoice_created.json")
    now = int(time.time())
    if case == "tampered":
        good = webhook()
        event = {**good, "body": good["body"].replace("10500", "1")}
    elif case == "wrong_secret":
        event = webhook(secret="whsec_attacker")
    elif case == "expired":
        event = webhook(timestamp=now - 301)
    elif case == "far_future":
        event = webhook(timestamp=now + 3600)
    elif case == "missing":
        event = with_signature(event, None)
    else:
        event = with_signature(event, "v1=deadbeef")
    assert_rejected(invoke(FUNCTION, event), "invalid_signature")
    assert stored_events(aws) == []


def test_signed_body_that_is_not_an_event_is_invalid_payload(invoke: Invoke, aws: StackResources) -> None:
    for body in (
        '{"hello": "world"}',
        "not json",
        '{"id": "x", "object": "charge", "type": "t"}',
        '{"id": "evt_1", "object": "event", "type": "invoice.created"}',  # no `created`
        '{"id": "evt_2", "object": "v2.core.event", "type": "v1.billing.meter.error_report_triggered"}',
    ):
        event = load_event("webhook/invoice_created.json")
        event["body"] = body
        assert_rejected(invoke(FUNCTION, signed(event, CURRENT)), "invalid_payload")
    assert stored_events(aws) == []


def test_thin_event_is_verified_and_stored(invoke: Invoke, aws: StackResources) -> None:
    response = invoke(FUNCTION, webhook("thin_meter_error.json"))
    assert response["statusCode"] == 200, response["body"]
    (stored,) = stored_events(aws)
    assert (stored["kind"], stored["type"]) == ("thin", "v1.billing.meter.error_report_triggered")


def test_unstorable_event_is_5xx_so_stripe_retries(invoke: Invoke, aws: StackResources) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws["StripeEventsTable"])
    response = invoke(FUNCTION, webhook())
    assert response["statusCode"] >= 500
    assert "Traceback" not in response["body"]


@pytest.mark.parametrize(
    "timestamp",
    ["²", "1¹", "9" * 5000, "-1", "1e3", " 12", "0x10", "1234567890123"],
)
def test_hostile_signature_timestamps_are_400_not_500(invoke: Invoke, aws: StackResources, timestamp: str) -> None:
    """Issue 11 §1: `t=²`, `t=1¹` and 5,000 digits passed str.isdigit() and then broke int() (500). `t` is 1-12
    ASCII digits, as every real Stripe-Signature has."""
    event = with_signature(webhook(), f"t={timestamp},v1={'0' * 64}")
    assert_rejected(invoke(FUNCTION, event), "invalid_signature")
    assert stored_events(aws) == []


@pytest.mark.parametrize(
    "body",
    [
        '{"id": "evt_big", "object": "event", "type": "invoice.created", "created": 1e400, "data": {"object": {}}}',
        '{"id": "evt_deep", "object": "event", "type": "invoice.created", "created": 1, "data": '
        + "[" * 5000
        + "]" * 5000
        + "}",
    ],
    ids=["created_overflows", "nested_5000_deep"],
)
def test_hostile_signed_bodies_are_invalid_payload_not_500(invoke: Invoke, aws: StackResources, body: str) -> None:
    """Issue 11 §1: a signed body with `created: 1e400` (OverflowError) or nested 5,000 deep (RecursionError)
    answered 500, and Stripe would have retried it for three days."""
    event = load_event("webhook/invoice_created.json")
    event["body"] = body
    assert_rejected(invoke(FUNCTION, signed(event, CURRENT)), "invalid_payload")
    assert stored_events(aws) == []
