"""Events (https://docs.stripe.com/api/events): what each change records, for webhooks to deliver."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from stripe_emulator import EmulatorControl, StripeEmulator
from tests.emulator.support import Factory, eventually


def _events_about(client: stripe.StripeClient, object_ids: set[str], since: int, types: list[str]) -> list[Any]:
    listed = client.v1.events.list({"types": types, "created": {"gte": since}, "limit": 100})
    return [event for event in listed.data if event.data.object["id"] in object_ids]


def test_one_click_subscription_records_its_events(client: stripe.StripeClient, make: Factory) -> None:
    """Creating a schedule that starts now records ``subscription_schedule.created``,
    ``customer.subscription.created`` and ``invoice.created``, each with a snapshot of its object
    (https://docs.stripe.com/api/events/types, https://docs.stripe.com/billing/subscriptions/webhooks)."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    invoice_id = str(subscription.latest_invoice)
    expected = {
        ("subscription_schedule.created", schedule.id),
        ("customer.subscription.created", subscription.id),
        ("invoice.created", invoice_id),
    }

    def recorded() -> list[Any] | None:
        found = _events_about(
            client,
            {schedule.id, subscription.id, invoice_id},
            int(customer.created),
            [kind for kind, _ in expected],
        )
        return found if {(event.type, event.data.object["id"]) for event in found} == expected else None

    events = eventually(recorded)
    for event in events:
        assert event.id.startswith("evt_")
        assert (event.object, event.livemode) == ("event", False)
        assert event.api_version
        assert event.request is not None
    by_type = {event.type: event for event in events}
    assert by_type["customer.subscription.created"].data.object["status"] == "active"
    assert by_type["invoice.created"].data.object["status"] == "draft"


def test_update_events_carry_previous_attributes(client: stripe.StripeClient, make: Factory) -> None:
    """``*.updated`` events carry the previous values of what changed in ``data.previous_attributes``
    (https://docs.stripe.com/api/events/object#event_object-data-previous_attributes)."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    invoice_id = str(subscription.latest_invoice)
    client.v1.invoices.update(invoice_id, {"auto_advance": False})
    client.v1.subscriptions.update(subscription.id, {"metadata": {"note": "held"}})

    def updates() -> dict[str, Any] | None:
        found = _events_about(
            client,
            {subscription.id, invoice_id},
            int(customer.created),
            ["invoice.updated", "customer.subscription.updated"],
        )
        previous = {
            event.type: event.data.previous_attributes.to_dict()
            for event in found
            if event.data.previous_attributes is not None
            and ("auto_advance" in event.data.previous_attributes or "metadata" in event.data.previous_attributes)
        }
        return previous if len(previous) == 2 else None

    previous = eventually(updates)
    assert previous["invoice.updated"]["auto_advance"] is True
    assert previous["customer.subscription.updated"]["metadata"] == {"note": None}


def test_events_record_the_request(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator: ``request`` names the API request and its idempotency key; list filters by ``type``
    (wildcards), ``types``, ``created``; ``type`` and ``types`` are exclusive
    (https://docs.stripe.com/api/events/list)."""
    customer = emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "create-a"})
    assert customer.last_response is not None
    event = emulator.events("customer.created")[0]
    assert event["request"] == {"id": customer.last_response.request_id, "idempotency_key": "create-a"}
    assert event["api_version"] == "2026-10-28.endive"
    assert event["pending_webhooks"] == 0
    assert "previous_attributes" not in event["data"]
    assert emulator_client.v1.events.retrieve(event["id"]).type == "customer.created"

    emulator_client.v1.customers.update(customer.id, {"name": "B"})
    wildcard = emulator_client.v1.events.list({"type": "customer.*"}).data
    assert [e.type for e in wildcard] == ["customer.updated", "customer.created"]
    assert [e.type for e in emulator_client.v1.events.list({"types": ["customer.updated"]}).data] == [
        "customer.updated"
    ]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        emulator_client.v1.events.list({"type": "customer.created", "types": ["customer.updated"]})
    assert caught.value.code == "parameters_exclusive"


def test_delivery_success_and_the_event_bus(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator: every event is published to bus subscribers (webhook delivery's hook); an event recorded
    while no webhook endpoint wants it goes nowhere, has nothing pending or failed (``pending_webhooks``
    0) and so counts as ``delivery_success=true``
    (https://docs.stripe.com/api/events/list#list_events-delivery_success). Delivery itself:
    test_emu_webhooks.py."""
    received: list[dict[str, Any]] = []
    unsubscribe = emulator.on_event(received.append)
    try:
        emulator_client.v1.customers.create({"name": "A"})
    finally:
        unsubscribe()
    emulator_client.v1.customers.create({"name": "B"})
    assert [event["type"] for event in received] == ["customer.created"]
    assert received[0]["pending_webhooks"] == 0
    assert emulator_client.v1.events.list({"delivery_success": False}).data == []
    delivered = emulator_client.v1.events.list({"delivery_success": True}).data
    assert [event.type for event in delivered] == ["customer.created", "customer.created"]
    assert delivered[-1].id == received[0]["id"]


def test_events_of_each_invoice_transition(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator: finalize, send, void record ``invoice.finalized``, ``invoice.sent``, ``invoice.voided``;
    a currency set on the customer records ``customer.updated`` (https://docs.stripe.com/api/events/types)."""
    make = Factory(emulator_client, "events")
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    invoice_id = str(emulator_client.v1.subscriptions.retrieve(str(schedule.subscription)).latest_invoice)
    emulator_client.v1.invoices.finalize_invoice(invoice_id, {"auto_advance": True})
    emulator_client.v1.invoices.send_invoice(invoice_id)
    emulator_client.v1.invoices.void_invoice(invoice_id)
    about_invoice = [e["type"] for e in emulator.events() if e["data"]["object"].get("id") == invoice_id]
    assert about_invoice == ["invoice.created", "invoice.finalized", "invoice.sent", "invoice.voided"]
    currency = [e for e in emulator.events("customer.updated") if e["data"]["object"]["id"] == customer.id]
    assert currency[0]["data"]["previous_attributes"] == {"currency": None}


def test_clock_and_events_controls(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator: ``POST /_emulator/clock`` applies what became due (drafts finalized);
    ``GET /_emulator/events`` lists every event, as ``EmulatorControl.events()`` does."""
    make = Factory(emulator_client, "controls")
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    invoice_id = str(emulator_client.v1.subscriptions.retrieve(str(schedule.subscription)).latest_invoice)
    requests.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": 3601}, timeout=5).raise_for_status()
    assert emulator.app.store.get_by_object("invoice", invoice_id)["status"] == "open"  # type: ignore[index]
    listed = requests.get(f"{emulator.url}/_emulator/events", timeout=5).json()["data"]
    assert listed[-1]["type"] == "invoice.finalized"
    assert EmulatorControl(emulator.url).events() == listed
