"""Subscription schedules (https://docs.stripe.com/api/subscription_schedules): the project's way to start
a subscription whose first invoice begins as a draft."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.emulator.support import Factory, add_months, error_of, metadata_of, unchecked


def test_starting_now_creates_an_active_subscription(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """``start_date=now`` creates the subscription at once: the schedule is ``active`` and names it; phase
    metadata lands on the subscription, schedule metadata does not
    (https://docs.stripe.com/billing/subscriptions/subscription-schedules#managing,
    https://docs.stripe.com/api/subscription_schedules/create#create_subscription_schedule-phases-metadata)."""
    customer = make.customer()
    catalog = make.catalog()
    schedule = make.schedule(customer.id, catalog, metadata={"incytes_funder_id": "f1"})
    client.v1.subscription_schedules.update(schedule.id, {"metadata": {"kind": "one-click"}})

    assert schedule.id.startswith("sub_sched_")
    assert (schedule.object, schedule.status, schedule.end_behavior) == ("subscription_schedule", "active", "release")
    assert schedule.customer == customer.id
    assert isinstance(schedule.subscription, str)
    assert schedule.subscription.startswith("sub_")
    assert schedule.current_phase is not None
    phase = schedule.phases[0]
    assert (schedule.current_phase.start_date, schedule.current_phase.end_date) == (phase.start_date, phase.end_date)
    assert phase.end_date == add_months(phase.start_date)
    assert [(item.price, item.quantity) for item in phase.items] == [
        (catalog.seat.id, 10),
        (catalog.case.id, None),
        (catalog.sms.id, None),
    ]
    assert (phase.currency, phase.collection_method, phase.proration_behavior) == (
        "usd",
        "send_invoice",
        "create_prorations",
    )

    subscription = client.v1.subscriptions.retrieve(schedule.subscription)
    assert (subscription.status, subscription.schedule, subscription.customer) == ("active", schedule.id, customer.id)
    assert (subscription.currency, subscription.collection_method, subscription.days_until_due) == (
        "usd",
        "send_invoice",
        30,
    )
    assert metadata_of(subscription) == {"incytes_funder_id": "f1"}
    assert (subscription.cancel_at_period_end, subscription.cancel_at, subscription.canceled_at) == (False, None, None)
    assert (subscription.ended_at, subscription.pending_update) == (None, None)
    assert subscription.start_date == subscription.billing_cycle_anchor == phase.start_date
    assert subscription.automatic_tax.enabled is False
    assert "current_period_start" not in subscription  # on the items since API 2025-03-31.basil
    assert client.v1.customers.retrieve(customer.id).currency == "usd"


def test_items_have_their_own_calendar_month_period(client: stripe.StripeClient, make: Factory) -> None:
    """Each subscription item has ``current_period_start/end``, one calendar month for a monthly price; a
    metered item has no quantity (https://docs.stripe.com/api/subscription_items/object,
    https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end)."""
    customer = make.customer()
    catalog = make.catalog()
    schedule = make.schedule(customer.id, catalog, seats=7)
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    items = {item.price.id: item for item in subscription["items"].data}

    seat = items[catalog.seat.id]
    assert seat.id.startswith("si_")
    assert (seat.object, seat.quantity, seat.subscription) == ("subscription_item", 7, subscription.id)
    assert seat.price.unit_amount == 3500
    assert seat.price.recurring is not None
    assert seat.price.recurring.usage_type == "licensed"
    assert seat.current_period_start == subscription.start_date
    assert seat.current_period_end == add_months(seat.current_period_start)
    for price in (catalog.case, catalog.sms):
        metered = items[price.id]
        assert metered.quantity is None
        assert (metered.current_period_start, metered.current_period_end) == (
            seat.current_period_start,
            seat.current_period_end,
        )
    listed = client.v1.subscription_items.list({"subscription": subscription.id})
    assert {item.id for item in listed.data} == {item.id for item in items.values()}


def test_first_invoice_is_a_draft_with_seat_and_metered_lines(client: stripe.StripeClient, make: Factory) -> None:
    """The first invoice begins as a draft (``auto_advance: true``, ``billing_reason: subscription_create``),
    names its subscription in ``parent.subscription_details``, bills seats in advance and shows the metered
    prices as zero-amount lines (https://docs.stripe.com/api/invoices/object#invoice_object-parent,
    https://docs.stripe.com/billing/subscriptions/subscription-schedules#managing)."""
    customer = make.customer()
    catalog = make.catalog()
    schedule = make.schedule(customer.id, catalog, seats=10)
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription), {"expand": ["latest_invoice"]})
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)

    assert invoice.id is not None
    assert invoice.id.startswith("in_")
    assert (invoice.status, invoice.auto_advance, invoice.billing_reason) == ("draft", True, "subscription_create")
    assert (invoice.customer, invoice.currency, invoice.collection_method) == (customer.id, "usd", "send_invoice")
    assert (invoice.number, invoice.hosted_invoice_url, invoice.status_transitions.finalized_at) == (None, None, None)
    assert invoice.parent is not None
    assert invoice.parent.type == "subscription_details"
    assert invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == subscription.id
    details_metadata = invoice.parent.subscription_details.metadata
    assert details_metadata is not None
    assert details_metadata.to_dict() == metadata_of(subscription)
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (35_000, 35_000, 35_000)
    assert (invoice.amount_paid, invoice.amount_remaining) == (0, 35_000)

    lines = {
        line.pricing.price_details.price: line
        for line in invoice.lines.data
        if line.pricing and line.pricing.price_details
    }
    seat_item = next(item for item in subscription["items"].data if item.price.id == catalog.seat.id)
    seat_line = lines[catalog.seat.id]
    assert (seat_line.amount, seat_line.quantity) == (35_000, 10)
    assert seat_line.parent is not None
    assert seat_line.parent.subscription_item_details is not None
    assert seat_line.parent.subscription_item_details.subscription_item == seat_item.id
    assert seat_line.parent.subscription_item_details.proration is False
    assert (seat_line.period.start, seat_line.period.end) == (
        seat_item.current_period_start,
        seat_item.current_period_end,
    )
    for price in (catalog.case, catalog.sms):
        assert lines[price.id].amount == 0


def test_charge_automatically_first_invoice_also_starts_as_draft(client: stripe.StripeClient, make: Factory) -> None:
    """Through a schedule, even a ``charge_automatically`` subscription starts with a draft invoice and is
    ``active`` (https://docs.stripe.com/api/subscriptions/create: "To start subscriptions where the first
    invoice always begins in a draft status, use subscription schedules")."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog(), collection_method="charge_automatically")
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription), {"expand": ["latest_invoice"]})
    assert (subscription.status, subscription.collection_method, subscription.days_until_due) == (
        "active",
        "charge_automatically",
        None,
    )
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.auto_advance, invoice.due_date) == ("draft", True, None)


def test_iterations_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """Phases take ``duration`` or ``end_date``; ``iterations`` was removed in 2025-09-30.clover
    (https://docs.stripe.com/changelog/clover/2025-09-30/remove-iterations)."""
    customer = make.customer()
    catalog = make.catalog()
    params = {
        "customer": customer.id,
        "start_date": "now",
        "phases": [{"items": [{"price": catalog.seat.id, "quantity": 1}], "iterations": 1}],
    }
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscription_schedules.create(unchecked(params))
    assert (caught.value.http_status, caught.value.code) == (400, "parameter_unknown")
    assert error_of(caught.value)["param"] == "phases[0][iterations]"


def test_duration_and_end_date_are_exclusive(client: stripe.StripeClient, make: Factory) -> None:
    """A phase ends by ``duration`` or by ``end_date``, not both
    (https://docs.stripe.com/api/subscription_schedules/create#create_subscription_schedule-phases-duration)."""
    customer = make.customer()
    catalog = make.catalog()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        make.schedule(customer.id, catalog, end_date=add_months(int(customer.created), 2))
    assert caught.value.http_status == 400
    assert client.v1.subscriptions.list({"customer": customer.id}).data == []


def test_metered_item_takes_no_quantity(client: stripe.StripeClient, make: Factory) -> None:
    """A metered price takes no quantity: "Quantity should not be specified where usage_type is `metered`"
    (https://docs.stripe.com/billing/subscriptions/quantities#multiple-quantities-sub)."""
    customer = make.customer()
    catalog = make.catalog()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        make.schedule(
            customer.id,
            catalog,
            items=[{"price": catalog.seat.id, "quantity": 1}, {"price": catalog.case.id, "quantity": 1}],
        )
    assert caught.value.http_status == 400
    assert "Quantity should not be specified where usage_type is `metered`" in str(caught.value.user_message)
    assert client.v1.subscriptions.list({"customer": customer.id}).data == []


def test_release_keeps_the_subscription_and_detaches_it(client: stripe.StripeClient, make: Factory) -> None:
    """Releasing leaves the subscription in place: ``released``, ``released_subscription`` set,
    ``subscription`` null, and the subscription's ``schedule`` null
    (https://docs.stripe.com/api/subscription_schedules/release)."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    released = client.v1.subscription_schedules.release(schedule.id)
    assert (released.status, released.subscription, released.released_subscription) == (
        "released",
        None,
        schedule.subscription,
    )
    assert released.released_at is not None
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    assert (subscription.status, subscription.schedule) == ("active", None)
    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "released"


def test_releasing_a_released_schedule_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """Only ``not_started`` or ``active`` schedules can be released
    (https://docs.stripe.com/api/subscription_schedules/release)."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    client.v1.subscription_schedules.release(schedule.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscription_schedules.release(schedule.id)
    assert caught.value.http_status == 400
    assert caught.value.user_message == (
        "You cannot release a subscription schedule that is currently in the `released` status."
    )


def test_idempotent_replay_returns_the_same_schedule(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """A retry with the same ``Idempotency-Key`` replays the first schedule and creates nothing else
    (https://docs.stripe.com/api/idempotent_requests)."""
    customer = make.customer()
    catalog = make.catalog()
    options: Any = {"idempotency_key": f"{uid}-schedule"}
    first = make.schedule(customer.id, catalog, options=options)
    again = make.schedule(customer.id, catalog, options=options)
    assert (again.id, again.subscription) == (first.id, first.subscription)
    assert again.last_response is not None
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert [s.id for s in client.v1.subscription_schedules.list({"customer": customer.id}).data] == [first.id]
    assert [s.id for s in client.v1.subscriptions.list({"customer": customer.id}).data] == [first.subscription]


def test_cancel_cancels_the_subscription(client: stripe.StripeClient, make: Factory) -> None:
    """Canceling a schedule cancels its subscription (https://docs.stripe.com/api/subscription_schedules/cancel)."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    canceled = client.v1.subscription_schedules.cancel(schedule.id, {"invoice_now": False, "prorate": False})
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    assert client.v1.subscriptions.retrieve(str(schedule.subscription)).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.release(schedule.id)


def test_another_currency_is_refused_while_one_bills(client: stripe.StripeClient, make: Factory) -> None:
    """A customer cannot have subscriptions in two currencies: "You cannot combine currencies on a single
    customer" (https://docs.stripe.com/billing/customer#currency)."""
    customer = make.customer()
    make.schedule(customer.id, make.catalog("usd"))
    with pytest.raises(stripe.InvalidRequestError) as caught:
        make.schedule(customer.id, make.catalog("eur"))
    assert caught.value.http_status == 400
    message = str(caught.value.user_message)
    assert "cannot combine currencies on a single customer" in message
    assert "usd" in message
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoice_items.create({"customer": customer.id, "amount": 100, "currency": "eur"})
