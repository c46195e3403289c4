"""An invoice's lines (https://docs.stripe.com/api/invoices/invoice_lines): "When retrieving an invoice,
you'll get a lines property containing the total count of line items and the first handful of those
items. There is also a URL where you can retrieve the full (paginated) list of line items." """

from __future__ import annotations

import pytest
import stripe

from tests.emulator.support import Factory, eventually

LINES = 15


def _long_invoice(client: stripe.StripeClient, make: Factory) -> tuple[stripe.Subscription, stripe.Invoice]:
    """A subscription of 15 prices (Stripe allows 20 items) and its draft first invoice, one line per item."""
    customer = make.customer()
    items = [
        {"price": make.price(unit_amount=100 + n, recurring={"interval": "month"}).id, "quantity": 1}
        for n in range(LINES)
    ]
    subscription = make.subscription(customer.id, items)
    return subscription, client.v1.invoices.retrieve(str(subscription.latest_invoice))


def test_an_invoice_embeds_its_first_ten_lines_and_pages_the_rest(client: stripe.StripeClient, make: Factory) -> None:
    """``lines`` holds the first page — "When you retrieve an Invoice you only get 10 lines at most in
    `lines` by default" (a Stripe engineer, https://github.com/stripe/stripe-php/issues/1400) — with
    ``has_more`` and ``url``; ``GET /v1/invoices/{id}/lines`` pages them all with ``limit``,
    ``starting_after`` and ``ending_before`` (https://docs.stripe.com/api/invoices/invoice_lines,
    https://docs.stripe.com/api/pagination), in the invoice's order."""
    subscription, invoice = _long_invoice(client, make)
    assert invoice.id
    embedded = invoice.lines
    assert (len(embedded.data), embedded.has_more, embedded.url) == (10, True, f"/v1/invoices/{invoice.id}/lines")

    first = client.v1.invoices.line_items.list(invoice.id)
    assert ([line.id for line in first.data], first.has_more) == ([line.id for line in embedded.data], True)
    rest = client.v1.invoices.line_items.list(invoice.id, {"starting_after": first.data[-1].id or ""})
    assert (len(rest.data), rest.has_more) == (LINES - 10, False)
    every = [*first.data, *rest.data]
    assert len({line.id for line in every}) == LINES
    assert sum(line.amount for line in every) == invoice.total
    assert {line.invoice for line in every} == {invoice.id}

    back = client.v1.invoices.line_items.list(invoice.id, {"ending_before": rest.data[0].id or "", "limit": 3})
    assert ([line.id for line in back.data], back.has_more) == ([line.id for line in first.data[7:]], True)
    paged = client.v1.invoices.line_items.list(invoice.id, {"limit": 4}).auto_paging_iter()
    assert [line.id for line in paged] == [line.id for line in every]

    assert subscription.id
    expanded = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]}).latest_invoice
    assert isinstance(expanded, stripe.Invoice)
    assert (len(expanded.lines.data), expanded.lines.has_more) == (10, True)
    listed = client.v1.invoices.list({"subscription": subscription.id}).data
    assert [(len(i.lines.data), i.lines.has_more) for i in listed] == [(10, True)]


def test_invoice_events_carry_the_first_page_of_lines(client: stripe.StripeClient, make: Factory) -> None:
    """An event's ``data.object`` is the invoice as the API shows it, so ``invoice.created`` (and what the
    webhook endpoints are sent) embeds the first 10 lines too (https://docs.stripe.com/api/events/object,
    https://docs.stripe.com/api/invoices/invoice_lines)."""
    _, invoice = _long_invoice(client, make)

    def created_event() -> stripe.Event | None:
        recent = client.v1.events.list({"type": "invoice.created", "created": {"gte": invoice.created}})
        return next((event for event in recent.auto_paging_iter() if event.data.object["id"] == invoice.id), None)

    lines = eventually(created_event).data.object["lines"]
    assert (len(lines["data"]), lines["has_more"], lines["url"]) == (10, True, f"/v1/invoices/{invoice.id}/lines")


def test_lines_of_an_unknown_invoice_are_404(client: stripe.StripeClient) -> None:
    """An unknown invoice id answers 404 ``resource_missing`` (https://docs.stripe.com/error-codes#resource-missing)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.line_items.list("in_1NoSuchInvoice000000000")
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")
