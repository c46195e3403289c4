"""Renewals at period end, and the usage they bill (emulator only: driven by the emulator clock).

When a subscription item's ``current_period_end`` passes, the subscription renews: one invoice
(``billing_reason: subscription_cycle``) bills the licensed items for the new period in advance and the
metered items' usage of the ended period in arrears, and the items' periods advance
(https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle,
https://docs.stripe.com/billing/subscriptions/usage-based/how-it-works). The draft is finalized an hour
later; usage for the ended period that arrives in that hour still lands on it
(https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period: "During the finalization
grace period, you can continue to report usage for the previous billing period").
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Catalog, Factory, add_months

HOUR = 3600


@pytest.fixture
def make(emulator_client: stripe.StripeClient) -> Factory:
    return Factory(emulator_client, "renew")


def usage(client: stripe.StripeClient, price: stripe.Price, customer: str, value: int, timestamp: int) -> None:
    meter = client.v1.billing.meters.retrieve(str(price.recurring.meter))  # type: ignore[union-attr]
    params: Any = {
        "event_name": meter.event_name,
        "payload": {"stripe_customer_id": customer, "value": str(value)},
        "timestamp": timestamp,
    }
    client.v1.billing.meter_events.create(params)


def subscribe(make: Factory, client: stripe.StripeClient, catalog: Catalog, seats: int = 10) -> stripe.Subscription:
    """The project's way: a schedule starting now, released at once."""
    customer = make.customer()
    schedule = make.schedule(customer.id, catalog, seats=seats)
    client.v1.subscription_schedules.release(schedule.id)
    return client.v1.subscriptions.retrieve(str(schedule.subscription))


def period_of(subscription: stripe.Subscription) -> tuple[int, int]:
    item = subscription["items"].data[0]
    return item.current_period_start, item.current_period_end


def cycle_invoices(client: stripe.StripeClient, subscription: stripe.Subscription) -> list[stripe.Invoice]:
    invoices = client.v1.invoices.list({"subscription": subscription.id, "limit": 100}).data
    return sorted((inv for inv in invoices if inv.billing_reason == "subscription_cycle"), key=lambda inv: inv.created)


def lines_by_price(invoice: stripe.Invoice) -> dict[str, tuple[int, int, int, int]]:
    """The subscription item lines (prorations left out) by price: quantity, amount, period."""
    return {
        str(line.pricing.price_details.price): (  # type: ignore[union-attr]
            line.quantity or 0,
            line.amount,
            line.period.start,
            line.period.end,
        )
        for line in invoice.lines.data
        if not line.parent.subscription_item_details.proration  # type: ignore[union-attr]
    }


def test_renewal_bills_seats_in_advance_and_usage_in_arrears(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """At period end: a ``subscription_cycle`` draft with seats × $35 for the next period and the cases
    and SMS used in the ended one (quantity = the meters' sum, amount = quantity × unit amount); the items'
    periods advance, ``latest_invoice`` names the invoice; ``invoice.created`` then
    ``customer.subscription.updated``; finalized an hour later."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog, seats=10)
    customer = str(subscription.customer)
    start, end = period_of(subscription)
    usage(client, catalog.case, customer, 3, start + 60)
    emulator.set_clock(start + 20 * 86_400)
    usage(client, catalog.sms, customer, 120, start + 600)
    usage(client, catalog.case, customer, 4, start + 20 * 86_400)

    emulator.advance_clock(end - emulator.now() - 10)
    assert cycle_invoices(client, subscription) == []
    emulator.set_clock(end + 5)

    (invoice,) = cycle_invoices(client, subscription)
    assert (invoice.status, invoice.auto_advance, invoice.created) == ("draft", True, end)
    assert (invoice.period_start, invoice.period_end) == (start, end)
    next_end = add_months(start, 2)
    assert lines_by_price(invoice) == {
        catalog.seat.id: (10, 35_000, end, next_end),
        catalog.case.id: (7, 3_500, start, end),
        catalog.sms.id: (120, 600, start, end),
    }
    assert invoice.amount_due == 35_000 + 3_500 + 600

    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.latest_invoice == invoice.id
    assert {period_of_item(item) for item in renewed["items"].data} == {(end, next_end)}
    tail = [(event["type"], event["created"]) for event in emulator.events()][-2:]
    assert tail == [("invoice.created", end), ("customer.subscription.updated", end)]
    updated = emulator.events("customer.subscription.updated")[-1]
    assert set(updated["data"]["previous_attributes"]) >= {"items", "latest_invoice"}
    assert updated["request"] == {"id": None, "idempotency_key": None}

    emulator.advance_clock(HOUR)
    finalized = client.v1.invoices.retrieve(invoice.id)
    assert (finalized.status, finalized.status_transitions.finalized_at) == ("open", end + HOUR)


def period_of_item(item: stripe.SubscriptionItem) -> tuple[int, int]:
    return item.current_period_start, item.current_period_end


def test_only_usage_inside_the_period_is_billed(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """Stripe bills the events whose timestamp lies in the item's period ``[start, end)``: earlier usage
    (before the subscription) is never billed, later usage waits for the next invoice."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog)
    customer = str(subscription.customer)
    start, end = period_of(subscription)
    usage(client, catalog.case, customer, 50, start - 600)
    usage(client, catalog.case, customer, 2, start)
    emulator.set_clock(end - 60)
    usage(client, catalog.case, customer, 3, end - 60)
    emulator.set_clock(end + 60)
    usage(client, catalog.case, customer, 8, end + 30)
    emulator.advance_clock(HOUR)
    (first,) = cycle_invoices(client, subscription)
    assert lines_by_price(first)[catalog.case.id][:2] == (5, 2_500)

    second_end = add_months(start, 2)
    emulator.set_clock(second_end + HOUR + 1)
    invoices = cycle_invoices(client, subscription)
    assert len(invoices) == 2
    assert lines_by_price(invoices[1])[catalog.case.id] == (8, 4_000, end, second_end)


def test_late_usage_in_the_grace_hour_lands_on_the_renewal_invoice(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """Usage for the ended period reported during the finalization grace period (1 h by default) is on the
    invoice when it is finalized; after finalization it no longer is."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog)
    customer = str(subscription.customer)
    start, end = period_of(subscription)
    usage(client, catalog.case, customer, 1, start + 10)
    emulator.set_clock(end + 600)
    (draft,) = cycle_invoices(client, subscription)
    assert lines_by_price(draft)[catalog.case.id][0] == 1
    usage(client, catalog.case, customer, 4, end - 5)  # late, for the ended period
    emulator.set_clock(end + HOUR + 1)
    finalized = client.v1.invoices.retrieve(draft.id)
    assert finalized.status == "open"
    assert lines_by_price(finalized)[catalog.case.id][:2] == (5, 2_500)
    assert finalized.amount_due == 10 * 3500 + 2_500
    usage(client, catalog.case, customer, 9, end - 5)  # too late: the invoice is final
    assert client.v1.invoices.retrieve(draft.id).amount_due == finalized.amount_due


def test_processing_lag_keeps_fresh_usage_off_the_draft(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """With ``processing_lag_seconds`` the renewal counts only usage Stripe has processed by then; the
    recount at finalization catches up."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog)
    customer = str(subscription.customer)
    _, end = period_of(subscription)
    emulator.set_meter_processing_lag(120)
    emulator.set_clock(end - 30)
    usage(client, catalog.case, customer, 6, end - 30)
    emulator.set_clock(end + 1)
    (draft,) = cycle_invoices(client, subscription)
    assert lines_by_price(draft)[catalog.case.id][0] == 0
    emulator.set_clock(end + HOUR + 1)
    assert lines_by_price(client.v1.invoices.retrieve(draft.id))[catalog.case.id][0] == 6


def test_decimal_unit_amounts_round_half_up(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """A metered price with ``unit_amount_decimal`` bills quantity × unit amount rounded to the minor unit
    (half up in the emulator: Stripe's rounding rule is not documented)."""
    client = emulator_client
    meter = make.meter()
    half_cent = make.price(
        unit_amount_decimal="0.5", recurring={"interval": "month", "usage_type": "metered", "meter": meter.id}
    )
    customer = make.customer()
    subscription = make.subscription(customer.id, [{"price": half_cent.id}])
    start, end = period_of(subscription)
    usage(client, half_cent, customer.id, 3, start + 60)
    emulator.set_clock(end + 1)
    (invoice,) = cycle_invoices(client, subscription)
    assert lines_by_price(invoice)[half_cent.id][:2] == (3, 2)


def test_a_long_clock_move_renews_every_period_in_order(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """Moving the clock three months renews three times, each at its period end and each invoice finalized
    an hour after it, in time order; calendar periods stay anchored (a 31st comes back)."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog, seats=2)
    start, _ = period_of(subscription)
    emulator.set_clock(add_months(start, 3) + 2 * HOUR)
    invoices = cycle_invoices(client, subscription)
    assert [inv.created for inv in invoices] == [add_months(start, n) for n in (1, 2, 3)]
    assert all(inv.status == "open" for inv in invoices)
    assert [inv.status_transitions.finalized_at for inv in invoices] == [add_months(start, n) + HOUR for n in (1, 2, 3)]
    stamps = [event["created"] for event in emulator.events()]
    assert stamps == sorted(stamps)
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert period_of(renewed) == (add_months(start, 3), add_months(start, 4))


def test_cancel_at_period_end_cancels_instead_of_renewing(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """With ``cancel_at_period_end`` the period end cancels the subscription and bills its usage on a final
    invoice; nothing renews (https://docs.stripe.com/billing/subscriptions/cancel#cancel-at-end-of-cycle)."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog)
    customer = str(subscription.customer)
    start, end = period_of(subscription)
    usage(client, catalog.case, customer, 2, start + 60)
    client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    emulator.set_clock(end + 2 * HOUR)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    (final,) = cycle_invoices(client, subscription)
    assert lines_by_price(final) == {catalog.case.id: (2, 1_000, start, end), catalog.sms.id: (0, 0, start, end)}


def test_pending_prorations_go_on_the_renewal_invoice(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """Prorations of a quantity change wait for the next invoice: the renewal's
    (https://docs.stripe.com/billing/subscriptions/prorations)."""
    client = emulator_client
    catalog = make.catalog()
    subscription = subscribe(make, client, catalog, seats=10)
    _, end = period_of(subscription)
    seat = next(item for item in subscription["items"].data if item.price.id == catalog.seat.id)
    emulator.set_clock(end - 10 * 86_400)
    client.v1.subscription_items.update(seat.id, {"quantity": 12})
    pending = client.v1.invoice_items.list({"customer": str(subscription.customer), "pending": True}).data
    assert len(pending) == 2
    emulator.set_clock(end + 1)
    (invoice,) = cycle_invoices(client, subscription)
    attached = {line.parent.subscription_item_details.invoice_item for line in invoice.lines.data}  # type: ignore[union-attr]
    assert {item.id for item in pending} <= attached
    assert lines_by_price(invoice)[catalog.seat.id][:2] == (12, 42_000)
