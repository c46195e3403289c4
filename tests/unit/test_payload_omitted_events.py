"""EventProcessor on an event stored as its envelope (too large for a DynamoDB item, issue 11 §1), with in-memory
ports: applied exactly like the full event, re-fetched from Stripe by its id; events.retrieve keeps events 30 days
(https://docs.stripe.com/api/events), past them the envelope is completed with the object alone."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from incytes_billing.adapters.dynamodb_events import storable_payload
from incytes_billing.errors import RetryLater, StripeUnavailable
from incytes_billing.models.events import PAYLOAD_OMITTED, VerifiedEvent, envelope_of
from tests.fakes import MemoryFunders, MemoryInvoiceGateway
from tests.stripe_fixtures import event, invoice_object
from tests.unit.event_harness import NOW_EPOCH, Harness


def deliver(harness: Harness, event_id: str, body: dict[str, Any], *, omitted: bool) -> None:
    payload = json.dumps(body)
    verified = VerifiedEvent(event_id, body["type"], body["created"], "snapshot", False, body["api_version"], "")
    harness.events.insert(replace(verified, payload=envelope_of(payload) if omitted else payload), received_at=0)


@pytest.fixture
def stripe() -> MemoryInvoiceGateway:
    return MemoryInvoiceGateway()


@pytest.fixture
def harness(funders: MemoryFunders, stripe: MemoryInvoiceGateway) -> Harness:
    """Funder f1 linked to cus_1 (tests/unit/conftest.py)."""
    return Harness(funders, stripe)


def big_draft() -> dict[str, Any]:
    draft = invoice_object("in_Big", "cus_1", subscription_id=None, status="draft", billing_reason="manual")
    draft["metadata"] = {f"note_{n}": "x" * 500 for n in range(50)}
    return draft


def test_envelope_keeps_what_applying_the_event_needs_and_marks_the_rest_omitted() -> None:
    body = event("evt_Big", "invoice.created", big_draft(), created=NOW_EPOCH)
    body["request"] = {"id": "req_1", "idempotency_key": "k"}
    envelope = json.loads(envelope_of(json.dumps(body)))
    assert envelope["data"] == {"object": {"id": "in_Big", "object": "invoice"}}
    assert envelope[PAYLOAD_OMITTED] is True
    assert {k: envelope[k] for k in ("id", "type", "created", "livemode", "api_version", "request")} == {
        k: body[k] for k in ("id", "type", "created", "livemode", "api_version", "request")
    }
    small = json.dumps(body)
    assert storable_payload(small) == small  # 27 KB: stored whole


def test_an_omitted_event_is_applied_exactly_like_the_full_one(funders: MemoryFunders) -> None:
    body = event("evt_Big", "invoice.created", big_draft(), created=NOW_EPOCH)
    records = []
    for omitted in (False, True):
        stripe = MemoryInvoiceGateway()
        harness = Harness(funders, stripe)
        stripe.events["evt_Big"] = body
        stripe.objects[("invoice", "in_Big")] = body["data"]["object"]
        deliver(harness, "evt_Big", body, omitted=omitted)
        assert harness.process("evt_Big") == "processed"
        records.append(harness.invoices.items["in_Big"])
    assert records[0] == records[1]


def test_past_stripes_30_days_the_envelope_is_completed_with_the_current_object(
    harness: Harness, stripe: MemoryInvoiceGateway
) -> None:
    body = event("evt_Old", "invoice.created", big_draft(), created=NOW_EPOCH)
    stripe.objects[("invoice", "in_Big")] = {**body["data"]["object"], "status": "open"}
    deliver(harness, "evt_Old", body, omitted=True)

    assert harness.process("evt_Old") == "processed"
    record = harness.invoices.get("in_Big")
    assert record is not None
    assert record.status == "open"  # as Stripe has it now


def test_an_event_stripe_no_longer_has_about_an_object_it_no_longer_has_is_retried_not_dropped(
    harness: Harness,
) -> None:
    deliver(harness, "evt_Gone", event("evt_Gone", "invoice.created", big_draft(), created=NOW_EPOCH), omitted=True)
    with pytest.raises(RetryLater):
        harness.process("evt_Gone")
    assert harness.events.events["evt_Gone"].status == "received"


def test_a_stripe_outage_during_the_refetch_leaves_the_event_to_retry(
    harness: Harness, stripe: MemoryInvoiceGateway
) -> None:
    stripe.down = True
    deliver(harness, "evt_Down", event("evt_Down", "invoice.created", big_draft(), created=NOW_EPOCH), omitted=True)
    with pytest.raises(StripeUnavailable):
        harness.process("evt_Down")
    assert harness.events.events["evt_Down"].status == "received"
    assert harness.invoices.items == {}
