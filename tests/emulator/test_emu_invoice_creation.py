"""Invoices the API asks for: one-off invoices (https://docs.stripe.com/api/invoices/create) and previews
(https://docs.stripe.com/api/invoices/create_preview)."""

from __future__ import annotations

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, Target, error_of, metadata_of


def _pending_item(client: stripe.StripeClient, customer: str, amount: int = 2_500) -> stripe.InvoiceItem:
    return client.v1.invoice_items.create(
        {"customer": customer, "amount": amount, "currency": "usd", "description": "Onboarding"}
    )


def _released_subscription(client: stripe.StripeClient, make: Factory, seats: int = 10) -> stripe.Subscription:
    """The project's one-click subscription, released from its schedule."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog(), seats=seats)
    client.v1.subscription_schedules.release(schedule.id)
    return client.v1.subscriptions.retrieve(str(schedule.subscription))


# one-off invoices --------------------------------------------------------------------------------
def test_one_off_invoice_is_an_empty_manual_draft_by_default(client: stripe.StripeClient, make: Factory) -> None:
    """A one-off invoice is a ``manual`` draft of no subscription (``parent: null``); pending items stay
    pending unless asked for ("When the parameter is omitted, the default value of
    pending_invoice_items_behavior is now exclude",
    https://docs.stripe.com/changelog/2022-08-01/removes-include-require-value-invoices) and it does not
    advance by itself ("auto_advance now also defaults to false for one-off invoices",
    https://docs.stripe.com/changelog/2018-11-08/one-off-invoices-no-longer-auto-collect-payment)."""
    customer = make.customer()
    item = _pending_item(client, customer.id)
    invoice = client.v1.invoices.create({"customer": customer.id, "description": "Setup", "metadata": {"k": "v"}})

    assert invoice.id is not None
    assert invoice.id.startswith("in_")
    assert (invoice.status, invoice.billing_reason, invoice.parent) == ("draft", "manual", None)
    assert (invoice.auto_advance, invoice.automatically_finalizes_at) == (False, None)
    assert (invoice.customer, invoice.currency, invoice.collection_method) == (
        customer.id,
        "usd",
        "charge_automatically",
    )
    assert (invoice.description, metadata_of(invoice)) == ("Setup", {"k": "v"})
    assert (invoice.lines.data, invoice.total, invoice.amount_due) == ([], 0, 0)
    assert client.v1.invoice_items.retrieve(item.id).invoice is None


def test_include_takes_the_pending_items(target: Target, client: stripe.StripeClient, make: Factory) -> None:
    """``pending_invoice_items_behavior=include`` puts the customer's pending items on the invoice as
    ``invoice_item_details`` lines and attaches them (https://docs.stripe.com/api/invoices/create,
    https://docs.stripe.com/api/invoices/line_item#invoice_line_item_object-parent); events: ``invoice.created``
    only (Stripe has no ``invoiceitem.updated``: https://docs.stripe.com/api/events/types)."""
    customer = make.customer()
    item = _pending_item(client, customer.id, 2_500)
    invoice = client.v1.invoices.create({"customer": customer.id, "pending_invoice_items_behavior": "include"})

    (line,) = invoice.lines.data
    assert line.amount == 2_500
    assert line.parent is not None
    assert line.parent.type == "invoice_item_details"
    assert line.parent.invoice_item_details is not None
    assert line.parent.invoice_item_details.invoice_item == item.id
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (2_500, 2_500, 2_500)
    assert client.v1.invoice_items.retrieve(item.id).invoice == invoice.id
    if target.emulator is not None:
        types = [(event["type"], event["data"]["object"]["id"]) for event in target.emulator.events()][-2:]
        assert types == [("invoiceitem.created", item.id), ("invoice.created", invoice.id)]


def test_send_invoice_needs_a_due_date(client: stripe.StripeClient, make: Factory) -> None:
    """``send_invoice`` needs ``days_until_due`` or ``due_date``; ``due_date`` is then creation +
    ``days_until_due`` days (https://docs.stripe.com/api/invoices/create#create_invoice-days_until_due)."""
    customer = make.customer()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.create({"customer": customer.id, "collection_method": "send_invoice"})
    assert "days_until_due" in error_of(refused.value)["message"]

    invoice = client.v1.invoices.create(
        {"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 14}
    )
    assert (invoice.collection_method, invoice.due_date) == ("send_invoice", invoice.created + 14 * 86_400)


def test_one_off_draft_can_be_deleted(client: stripe.StripeClient, make: Factory) -> None:
    """Draft invoices of no subscription can be deleted (https://docs.stripe.com/api/invoices/delete)."""
    customer = make.customer()
    invoice = client.v1.invoices.create({"customer": customer.id})
    assert invoice.id is not None
    deleted = client.v1.invoices.delete(invoice.id)
    assert deleted.deleted is True


def test_auto_advancing_one_off_draft_is_finalized_an_hour_later(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: with ``auto_advance`` Stripe finalizes the draft after an hour, like any draft
    (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection: "automatically
    finalizing draft invoices after one hour")."""
    client = emulator_client
    make = Factory(client, "oneoff")
    customer = make.customer()
    _pending_item(client, customer.id, 4_000)
    invoice = client.v1.invoices.create(
        {"customer": customer.id, "auto_advance": True, "pending_invoice_items_behavior": "include"}
    )
    assert invoice.id is not None
    assert invoice.automatically_finalizes_at == invoice.created + 3600

    emulator.advance_clock(3600)
    finalized = client.v1.invoices.retrieve(invoice.id)
    assert (finalized.status, finalized.amount_due, finalized.billing_reason) == ("open", 4_000, "manual")
    assert finalized.number


# previews ----------------------------------------------------------------------------------------
def test_preview_of_a_subscription_is_its_next_renewal_and_is_not_stored(
    target: Target, client: stripe.StripeClient, make: Factory
) -> None:
    """A preview shows the subscription's next invoice — the seats for the next period — under an id
    prefixed ``upcoming_in`` (SDK ``Invoice.id``; Stripe's example ``upcoming_in_1MtHbE...``); "the invoice
    has not yet been created. As such, the upcoming invoice will not show up in invoice listing calls"
    (https://docs.stripe.com/api/invoices/create_preview)."""
    subscription = _released_subscription(client, make, seats=10)
    seat = subscription["items"].data[0]
    emulator = target.emulator
    before = len(emulator.events()) if emulator is not None else 0

    preview = client.v1.invoices.create_preview({"subscription": subscription.id})

    assert preview.id is not None
    assert preview.id.startswith("upcoming_in_")
    assert (preview.object, preview.status, preview.customer) == ("invoice", "draft", subscription.customer)
    assert preview.billing_reason == "upcoming"
    assert preview.parent is not None
    assert preview.parent.subscription_details is not None
    assert preview.parent.subscription_details.subscription == subscription.id
    seat_lines = [line for line in preview.lines.data if line.amount == 35_000]
    assert [(line.period.start, line.period.end) for line in seat_lines] == [
        (seat.current_period_end, seat_lines[0].period.end)
    ]
    assert seat_lines[0].period.end > seat.current_period_end
    listed = client.v1.invoices.list({"subscription": subscription.id}).data
    assert preview.id not in {invoice.id for invoice in listed}
    if emulator is not None:
        assert len(emulator.events()) == before
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.invoices.retrieve(preview.id)


def test_preview_of_an_item_change_shows_its_prorations_without_making_them(
    target: Target, client: stripe.StripeClient, make: Factory
) -> None:
    """``subscription_details[items]`` previews a change: its prorations are on the preview (lines with
    ``parent.subscription_item_details.proration`` true, the recommended way to find them), with
    ``subscription_proration_date`` the ``proration_date`` passed; the subscription and its pending items
    are left as they were (https://docs.stripe.com/api/invoices/create_preview,
    https://docs.stripe.com/billing/subscriptions/prorations#preview-proration)."""
    subscription = _released_subscription(client, make, seats=10)
    seat = subscription["items"].data[0]
    at = target.now()

    preview = client.v1.invoices.create_preview(
        {
            "subscription": subscription.id,
            "subscription_details": {"items": [{"id": seat.id, "quantity": 12}], "proration_date": at},
        }
    )

    prorations = [
        line.amount
        for line in preview.lines.data
        if line.parent and line.parent.subscription_item_details and line.parent.subscription_item_details.proration
    ]
    assert len(prorations) == 2
    assert prorations[0] < 0 < prorations[1]
    assert preview.parent is not None
    assert preview.parent.subscription_details is not None
    assert preview.parent.subscription_details.subscription_proration_date == at
    assert any(line.amount == 42_000 for line in preview.lines.data)  # 12 seats for the next period
    assert client.v1.subscription_items.retrieve(seat.id).quantity == 10
    pending = client.v1.invoice_items.list({"customer": str(subscription.customer), "pending": True}).data
    assert pending == []


def test_preview_of_a_customer_without_subscriptions_bills_its_pending_items(
    client: stripe.StripeClient, make: Factory
) -> None:
    """``customer`` alone previews its next invoice; with no subscription that is its pending items
    (``billing_reason: manual`` in Stripe's example, https://docs.stripe.com/api/invoices/create_preview),
    which stay pending."""
    customer = make.customer()
    item = _pending_item(client, customer.id, 1_200)

    preview = client.v1.invoices.create_preview({"customer": customer.id})

    assert preview.id is not None
    assert preview.id.startswith("upcoming_in_")
    assert (preview.billing_reason, preview.parent, preview.total) == ("manual", None, 1_200)
    assert client.v1.invoice_items.retrieve(item.id).invoice is None


def test_nothing_upcoming_is_404_invoice_upcoming_none(client: stripe.StripeClient, make: Factory) -> None:
    """A customer with nothing to bill, or a canceled subscription, has no upcoming invoice: 404
    ``invoice_upcoming_none`` (SDK error codes; "No upcoming invoices for customer")."""
    customer = make.customer()
    with pytest.raises(stripe.InvalidRequestError) as nothing:
        client.v1.invoices.create_preview({"customer": customer.id})
    assert nothing.value.http_status == 404
    assert error_of(nothing.value)["code"] == "invoice_upcoming_none"

    subscription = _released_subscription(client, make)
    client.v1.subscriptions.cancel(subscription.id)
    with pytest.raises(stripe.InvalidRequestError) as canceled:
        client.v1.invoices.create_preview({"subscription": subscription.id})
    assert error_of(canceled.value)["code"] == "invoice_upcoming_none"
