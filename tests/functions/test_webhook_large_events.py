"""A genuine Stripe event too large for a DynamoDB item (400 KB) is acknowledged with 200 and never lost: its
envelope is stored (payload_omitted) and the processor re-fetches the rest from Stripe by the event's id
(issue 11 §1). Replay stores such an event the same way."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.adapters.dynamodb_events import MAX_STORED_PAYLOAD_BYTES
from local_stack.template.intrinsics import StackResources
from local_stack.webhook_event import signed
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.functions.test_replay_refetch import gateway
from tests.functions.test_webhook_api import queued_ids, stored_events
from tests.support import WEBHOOK_SECRETS, Invoke, load_event

# Stripe's metadata limits: 50 keys, 40-character keys, 500-character values (https://docs.stripe.com/api/metadata).
# Values in a script of 3 UTF-8 bytes a character make each object's metadata ~75 KB.
BIG_METADATA = {f"clinical_note_{n:02d}": "診療記録" * 125 for n in range(50)}
LINES = 12  # Stripe embeds 10 of them in the event; the processor reads all 12


def stored_body(aws: StackResources, event_id: str) -> dict[str, Any]:
    item = boto3.resource("dynamodb").Table(aws["StripeEventsTable"]).get_item(Key={"event_id": event_id})["Item"]
    body: dict[str, Any] = json.loads(str(item["payload"]))
    return body


def large_sample_event() -> dict[str, Any]:
    """events/webhook/invoice_created.json with ten embedded lines carrying full metadata: ~750 KB."""
    event = load_event("webhook/invoice_created.json")
    body = json.loads(event["body"])
    invoice = body["data"]["object"]
    line = {"object": "line_item", "amount": 100, "currency": "usd", "quantity": 1, "metadata": BIG_METADATA}
    invoice["lines"] = {
        "object": "list",
        "data": [{**line, "id": f"il_{n}", "description": f"Item {n}"} for n in range(10)],
        "has_more": True,
        "total_count": LINES,
        "url": f"/v1/invoices/{invoice['id']}/lines",
    }
    event["body"] = json.dumps(body, ensure_ascii=False)
    return event


def test_a_large_event_is_acknowledged_and_its_envelope_stored(invoke: Invoke, aws: StackResources) -> None:
    event = large_sample_event()
    assert len(event["body"].encode()) > 400 * 1024  # over DynamoDB's item limit: put_item failed, a 500

    response = invoke("WebhookFunction", signed(event, WEBHOOK_SECRETS[0]))

    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["duplicate"] is False
    assert queued_ids(aws) == ["evt_1SampleInvoiceCreated"]
    (stored,) = stored_events(aws)
    assert (stored["type"], stored["status"]) == ("invoice.created", "received")
    envelope = json.loads(str(stored["payload"]))
    original = json.loads(event["body"])
    assert envelope == {
        **{name: original[name] for name in ("id", "object", "type", "created", "livemode", "api_version", "request")},
        "data": {"object": {"id": "in_1SampleDraft", "object": "invoice"}},
        "payload_omitted": True,
    }
    again = invoke("WebhookFunction", signed(large_sample_event(), WEBHOOK_SECRETS[0]))  # Stripe's retry
    assert (again["statusCode"], json.loads(again["body"])["duplicate"]) == (200, True)


def test_an_event_just_under_the_bound_is_stored_whole(invoke: Invoke, aws: StackResources) -> None:
    event = load_event("webhook/invoice_created.json")
    body = json.loads(event["body"])
    body["data"]["object"]["description"] = ""
    padding = MAX_STORED_PAYLOAD_BYTES - len(json.dumps(body).encode())
    body["data"]["object"]["description"] = "x" * padding
    event["body"] = json.dumps(body)
    assert len(event["body"].encode()) == MAX_STORED_PAYLOAD_BYTES

    assert invoke("WebhookFunction", signed(event, WEBHOOK_SECRETS[0]))["statusCode"] == 200

    (stored,) = stored_events(aws)
    assert stored["payload"] == event["body"]


def one_off_invoice_with_big_lines(client: stripe.StripeClient, customer_id: str) -> str:
    """A draft one-off invoice of LINES invoice items, each with metadata as large as Stripe allows."""
    for n in range(LINES):
        client.v1.invoice_items.create(
            {
                "customer": customer_id,
                "amount": 1000 + n,
                "currency": "usd",
                "description": f"Case review {n}",
                "metadata": BIG_METADATA,
            }
        )
    invoice = client.v1.invoices.create({"customer": customer_id, "pending_invoice_items_behavior": "include"})
    return str(invoice.id)


@pytest.fixture
def linked(invoke: Invoke, demo_customer: str) -> str:
    """Funder f1, linked to the demo customer."""
    assert invoke("FundersFunction", load_event("funders/put_funder_linked.json"))["statusCode"] == 200
    return demo_customer


def test_a_large_emulator_event_goes_through_the_pipeline_like_any_other(
    pipeline: Pipeline, linked: str, stripe_client: stripe.StripeClient, aws: StackResources
) -> None:
    invoice_id = one_off_invoice_with_big_lines(stripe_client, linked)
    body = pipeline.stripe_event("invoice.created", invoice_id)
    assert len(body.encode()) > 400 * 1024
    event_id = json.loads(body)["id"]

    pipeline.deliver(body)
    assert stored_body(aws, event_id)["payload_omitted"] is True
    pipeline.process()

    assert pipeline.event_status(event_id) == "processed"
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["funder_id"], record["status"], record["review_status"]) == ("f1", "draft", "not_required")
    assert record["amount_due"] == sum(1000 + n for n in range(LINES))
    assert [line["description"] for line in record["lines"]] == [f"Case review {n}" for n in range(LINES)]


def test_a_stripe_outage_during_the_refetch_brings_the_message_back(
    pipeline: Pipeline,
    linked: str,
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_EVENT_RETRY_BASE_SECONDS", "1")  # the failed message comes back after 1 s
    invoice_id = one_off_invoice_with_big_lines(stripe_client, linked)
    body = pipeline.stripe_event("invoice.created", invoice_id)
    event_id = json.loads(body)["id"]
    pipeline.deliver(body)
    stripe_emulator.inject_fault("/v1/events/", method="GET", status=503, count=100)

    pipeline.process()

    assert pipeline.event_status(event_id) == "received"  # kept, not applied, not lost
    assert pipeline.invoice(invoice_id) is None
    stripe_emulator.clear_faults()
    time.sleep(1.2)
    pipeline.process()  # the message is back
    assert pipeline.event_status(event_id) == "processed"
    assert pipeline.invoice(invoice_id) is not None


def test_a_large_undelivered_event_is_replayed_without_failing(
    pipeline: Pipeline,
    linked: str,
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
    aws: StackResources,
) -> None:
    """The hourly replay stores through the same ingress: the event's envelope, and the processor applies it."""
    stripe_emulator.add_webhook_endpoint("http://127.0.0.1:9/unreachable", "whsec_elsewhere")
    invoice_id = one_off_invoice_with_big_lines(stripe_client, linked)
    stripe_emulator.wait_for_deliveries(timeout=0.5)  # the first attempt failed; retries wait

    event_id = json.loads(pipeline.stripe_event("invoice.created", invoice_id))["id"]

    report = pipeline.invoke("ReconcilerFunction", load_event("schedule/scheduled_event.json"))

    assert report["replay_failed"] == []
    assert stored_body(aws, event_id)["payload_omitted"] is True
    pipeline.process()
    assert pipeline.event_status(event_id) == "processed"
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert len(record["lines"]) == LINES


def test_fetch_event_is_plain_json_and_none_once_stripe_no_longer_has_it(
    stripe_api: str, stripe_client: stripe.StripeClient
) -> None:
    """events.retrieve: "You can access events through the Retrieve Event API for 30 days"
    (https://docs.stripe.com/api/events); an id Stripe does not have is a 404 resource_missing."""
    adapter = gateway(stripe_api)
    customer = stripe_client.v1.customers.create({"name": "Refetched", "metadata": {"note": "ü"}})
    (created,) = stripe_client.v1.events.list({"type": "customer.created"}).data

    fetched = adapter.fetch_event(created.id)

    assert fetched is not None
    assert (fetched["id"], fetched["type"], fetched["data"]["object"]["id"]) == (
        created.id,
        "customer.created",
        customer.id,
    )
    assert json.loads(json.dumps(fetched)) == fetched
    assert adapter.fetch_event("evt_Unknown") is None
