"""Invoices of subscriptions (https://docs.stripe.com/api/invoices): holding the first draft, finalizing,
sending, voiding, and the invoice lifecycle (https://docs.stripe.com/invoicing/overview#invoice-lifecycle)."""

from __future__ import annotations

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, eventually, metadata_of


def _first_invoice(make: Factory, **schedule: object) -> tuple[str, stripe.Invoice]:
    """A customer's one-click subscription, and its draft first invoice."""
    customer = make.customer()
    created = make.schedule(customer.id, make.catalog(), **schedule)  # type: ignore[arg-type]
    subscription = make.client.v1.subscriptions.retrieve(str(created.subscription), {"expand": ["latest_invoice"]})
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    return customer.id, invoice


def test_held_draft_stays_a_draft_while_another_is_finalized(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: after two hours a draft held with ``auto_advance: false`` is still a draft, while an
    ``auto_advance`` draft was finalized an hour after its creation, by Stripe itself (no request)
    (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection)."""
    make = Factory(emulator_client, "hold")
    _, held = _first_invoice(make)
    _, free = _first_invoice(make)
    assert held.id
    assert free.id
    updated = emulator_client.v1.invoices.update(held.id, {"auto_advance": False})
    assert (updated.auto_advance, updated.automatically_finalizes_at) == (False, None)
    assert free.automatically_finalizes_at == free.created + 3600

    emulator.advance_clock(2 * 3600)
    assert emulator_client.v1.invoices.retrieve(held.id).status == "draft"
    finalized = emulator_client.v1.invoices.retrieve(free.id)
    assert (finalized.status, finalized.status_transitions.finalized_at) == ("open", free.created + 3600)
    event = emulator.events("invoice.finalized")[-1]
    assert event["data"]["object"]["id"] == free.id
    assert (event["created"], event["request"]) == (free.created + 3600, {"id": None, "idempotency_key": None})


def test_finalize_with_auto_advance_opens_and_numbers(client: stripe.StripeClient, make: Factory) -> None:
    """Finalizing makes the draft ``open`` with a ``number``, a hosted page and, for ``send_invoice``, a due
    date ``days_until_due`` after creation; ``auto_advance=true`` lets Stripe collect it
    (https://docs.stripe.com/api/invoices/finalize, https://docs.stripe.com/api/invoices/object#invoice_object-due_date)."""
    customer, draft = _first_invoice(make)
    assert draft.id
    client.v1.invoices.update(draft.id, {"auto_advance": False})
    invoice = client.v1.invoices.finalize_invoice(draft.id, {"auto_advance": True})
    assert (invoice.status, invoice.auto_advance, invoice.amount_due) == ("open", True, 35_000)
    assert invoice.number
    assert invoice.hosted_invoice_url
    assert invoice.invoice_pdf
    assert invoice.status_transitions.finalized_at is not None
    assert invoice.due_date == draft.created + 30 * 86_400
    customer_prefix = client.v1.customers.retrieve(customer).invoice_prefix
    assert invoice.number.startswith(f"{customer_prefix}-")


def test_finalizing_a_finalized_invoice_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """Only drafts can be finalized (https://docs.stripe.com/api/invoices/finalize)."""
    _, draft = _first_invoice(make)
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.finalize_invoice(draft.id)
    assert caught.value.http_status == 400
    assert "already finalized" in str(caught.value.user_message)


def test_void_only_open_invoices(client: stripe.StripeClient, make: Factory) -> None:
    """A draft cannot be voided; an open invoice can (https://docs.stripe.com/api/invoices/void,
    https://docs.stripe.com/invoicing/overview#void)."""
    _, draft = _first_invoice(make)
    assert draft.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.void_invoice(draft.id)
    assert caught.value.http_status == 400
    client.v1.invoices.finalize_invoice(draft.id)
    voided = client.v1.invoices.void_invoice(draft.id)
    assert voided.status == "void"
    assert voided.status_transitions.voided_at is not None


def test_send_an_open_send_invoice_invoice(client: stripe.StripeClient, make: Factory) -> None:
    """``send_invoice`` invoices can be sent once finalized (https://docs.stripe.com/api/invoices/send)."""
    _, draft = _first_invoice(make)
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id, {"auto_advance": True})
    sent = client.v1.invoices.send_invoice(draft.id)
    assert (sent.id, sent.status) == (draft.id, "open")


def test_send_refuses_charge_automatically_invoices(client: stripe.StripeClient, make: Factory) -> None:
    """Only ``send_invoice`` invoices are sent by email (https://docs.stripe.com/api/invoices/send)."""
    _, draft = _first_invoice(make, collection_method="charge_automatically")
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id, {"auto_advance": False})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.send_invoice(draft.id)
    assert caught.value.http_status == 400


def test_finalized_invoices_take_metadata_only(client: stripe.StripeClient, make: Factory) -> None:
    """ "Once an invoice is finalized, you can no longer change most of its details"; metadata still changes
    (https://docs.stripe.com/api/invoices/update)."""
    _, draft = _first_invoice(make)
    assert draft.id
    assert client.v1.invoices.update(draft.id, {"description": "seats"}).description == "seats"
    client.v1.invoices.finalize_invoice(draft.id)
    assert metadata_of(client.v1.invoices.update(draft.id, {"metadata": {"k": "v"}})) == {"k": "v"}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.update(draft.id, {"description": "later"})
    assert caught.value.http_status == 400


def test_mark_uncollectible_and_pay_out_of_band(client: stripe.StripeClient, make: Factory) -> None:
    """Open invoices can be marked uncollectible, and then still paid out of band
    (https://docs.stripe.com/api/invoices/mark_uncollectible, https://docs.stripe.com/api/invoices/pay)."""
    _, draft = _first_invoice(make)
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id)
    marked = client.v1.invoices.mark_uncollectible(draft.id)
    assert (marked.status, marked.status_transitions.marked_uncollectible_at is not None) == ("uncollectible", True)
    paid = client.v1.invoices.pay(draft.id, {"paid_out_of_band": True})
    assert (paid.status, paid.amount_remaining) == ("paid", 0)
    assert paid.status_transitions.paid_at is not None


def test_subscription_drafts_cannot_be_deleted(client: stripe.StripeClient, make: Factory) -> None:
    """Invoices of subscriptions are voided, never deleted (https://docs.stripe.com/api/invoices/delete:
    "if an invoice is for a subscription, it must be voided")."""
    _, draft = _first_invoice(make)
    assert draft.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.delete(draft.id)
    assert caught.value.http_status == 400
    assert client.v1.invoices.retrieve(draft.id).status == "draft"


def test_list_by_customer_subscription_and_status(client: stripe.StripeClient, make: Factory) -> None:
    """Invoices are listed by ``customer``, ``subscription`` and ``status``
    (https://docs.stripe.com/api/invoices/list)."""
    customer, draft = _first_invoice(make)
    assert draft.id
    assert draft.parent
    assert draft.parent.subscription_details
    subscription = str(draft.parent.subscription_details.subscription)
    assert [i.id for i in client.v1.invoices.list({"customer": customer}).data] == [draft.id]
    assert [i.id for i in client.v1.invoices.list({"subscription": subscription}).data] == [draft.id]
    assert [i.id for i in client.v1.invoices.list({"customer": customer, "status": "draft"}).data] == [draft.id]
    assert client.v1.invoices.list({"customer": customer, "status": "open"}).data == []


def test_search_by_subscription_and_status(client: stripe.StripeClient, make: Factory) -> None:
    """Invoices are searched by ``subscription``, ``status``, ``metadata``...; the index lags on Stripe
    (https://docs.stripe.com/search#query-fields-for-invoices)."""
    _, draft = _first_invoice(make)
    assert draft.id
    assert draft.parent
    assert draft.parent.subscription_details
    query = f"subscription:'{draft.parent.subscription_details.subscription}' AND status:'draft'"

    def found() -> list[str] | None:
        return [invoice.id for invoice in client.v1.invoices.search({"query": query}).data if invoice.id] or None

    assert eventually(found) == [draft.id]


def test_an_uncollectible_invoice_can_be_voided(client: stripe.StripeClient, make: Factory) -> None:
    """Stripe's transition table: ``uncollectible`` → ``POST /v1/invoices/:id/void`` → ``void``, with
    ``invoice.voided`` (https://docs.stripe.com/invoicing/integration/workflow-transitions)."""
    _, draft = _first_invoice(make)
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id)
    client.v1.invoices.mark_uncollectible(draft.id)
    voided = client.v1.invoices.void_invoice(draft.id)
    assert voided.status == "void"
    assert voided.status_transitions.voided_at is not None
    assert voided.status_transitions.marked_uncollectible_at is not None
