"""Subscriptions made directly (https://docs.stripe.com/api/subscriptions), their items, prorations,
cancellation, lists and search."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Catalog, Factory, Target, add_months, error_of, eventually, unchecked


def _seat_item(subscription: stripe.Subscription, catalog: Catalog) -> stripe.SubscriptionItem:
    items: list[stripe.SubscriptionItem] = subscription["items"].data
    return next(item for item in items if item.price.id == catalog.seat.id)


def _pending(client: stripe.StripeClient, customer: str) -> list[stripe.InvoiceItem]:
    return list(client.v1.invoice_items.list({"customer": customer, "pending": True}).data)


def test_send_invoice_subscription_starts_active_with_a_draft(client: stripe.StripeClient, make: Factory) -> None:
    """With ``send_invoice`` the subscription is ``active`` at once and its first invoice stays a draft
    until Stripe finalizes it about an hour later
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior,
    https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(
        customer.id,
        [{"price": catalog.seat.id, "quantity": 3}, *catalog.metered_items()],
        metadata={"incytes_funder_id": "f9"},
        expand=["latest_invoice"],
    )
    assert subscription.id.startswith("sub_")
    assert (subscription.status, subscription.schedule, subscription.days_until_due) == ("active", None, 30)
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.auto_advance, invoice.billing_reason) == ("draft", True, "subscription_create")
    assert invoice.amount_due == 3 * 3500
    assert invoice.due_date is not None
    assert invoice.due_date - invoice.created == 30 * 86_400


@pytest.mark.parametrize("auto_advance", [True, False])
def test_draft_is_finalized_an_hour_later_unless_held(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, auto_advance: bool
) -> None:
    """Emulator clock: an ``auto_advance`` draft is finalized an hour after creation; a draft held with
    ``auto_advance: false`` stays a draft (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection)."""
    make = Factory(emulator_client, "clock")
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id, "quantity": 2}])
    invoice_id = str(subscription.latest_invoice)
    if not auto_advance:
        emulator_client.v1.invoices.update(invoice_id, {"auto_advance": False})
    emulator.advance_clock(59 * 60)
    assert emulator_client.v1.invoices.retrieve(invoice_id).status == "draft"
    emulator.advance_clock(2 * 60)
    expected = "open" if auto_advance else "draft"
    assert emulator_client.v1.invoices.retrieve(invoice_id).status == expected


def test_charge_automatically_without_payment_method_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """``charge_automatically`` finalizes and charges the first invoice within the request; with nothing to
    charge (no payment method) the default ``allow_incomplete`` refuses and creates nothing
    (https://docs.stripe.com/billing/subscriptions/payment-methods-setting#payment-method-priority)."""
    customer = make.customer()
    catalog = make.catalog()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        make.subscription(customer.id, [{"price": catalog.seat.id}], collection_method="charge_automatically")
    assert caught.value.http_status == 400
    assert "has no attached payment source or default payment method" in str(caught.value.user_message)
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []


def test_charge_automatically_default_incomplete_finalizes_at_once(client: stripe.StripeClient, make: Factory) -> None:
    """With ``payment_behavior=default_incomplete`` the subscription is ``incomplete`` and its first invoice
    already ``open`` (finalized, numbered) when the request returns
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(
        customer.id,
        [{"price": catalog.seat.id, "quantity": 2}],
        collection_method="charge_automatically",
        payment_behavior="default_incomplete",
        expand=["latest_invoice"],
    )
    assert subscription.status == "incomplete"
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.amount_due, invoice.billing_reason) == ("open", 7000, "subscription_create")
    assert invoice.number is not None
    assert invoice.status_transitions.finalized_at is not None


def test_charge_automatically_with_nothing_due_is_paid(client: stripe.StripeClient, make: Factory) -> None:
    """A first invoice with nothing due (metered prices only) is paid at finalization and the subscription
    is ``active`` (https://docs.stripe.com/billing/subscriptions/usage-based/implementation-guide)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(
        customer.id, catalog.metered_items(), collection_method="charge_automatically", expand=["latest_invoice"]
    )
    assert subscription.status == "active"
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.amount_due, invoice.total) == ("paid", 0, 0)
    assert invoice.status_transitions.paid_at is not None


def test_days_until_due_goes_with_send_invoice(client: stripe.StripeClient, make: Factory) -> None:
    """``days_until_due`` is "valid only for subscriptions where ``collection_method`` is ``send_invoice``"
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-days_until_due)."""
    customer = make.customer()
    catalog = make.catalog()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        make.subscription(
            customer.id, [{"price": catalog.seat.id}], collection_method="charge_automatically", days_until_due=10
        )
    assert "days_until_due" in str(caught.value.user_message)


def test_metered_price_takes_no_quantity(client: stripe.StripeClient, make: Factory) -> None:
    """ "Quantity should not be specified where usage_type is `metered`" — on create and on item updates
    (https://docs.stripe.com/billing/subscriptions/quantities#multiple-quantities-sub)."""
    customer = make.customer()
    catalog = make.catalog()
    with pytest.raises(stripe.InvalidRequestError) as creating:
        make.subscription(customer.id, [{"price": catalog.seat.id}, {"price": catalog.sms.id, "quantity": 1}])
    assert "Quantity should not be specified where usage_type is `metered`" in str(creating.value.user_message)
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id}, {"price": catalog.sms.id}])
    sms = next(item for item in subscription["items"].data if item.price.id == catalog.sms.id)
    with pytest.raises(stripe.InvalidRequestError) as updating:
        client.v1.subscription_items.update(sms.id, {"quantity": 3})
    assert "Quantity should not be specified where usage_type is `metered`" in str(updating.value.user_message)


def test_quantity_change_creates_prorations_for_the_next_invoice(client: stripe.StripeClient, make: Factory) -> None:
    """A quantity change with ``create_prorations`` leaves pending invoice items — a credit for the unused
    time at the old quantity and a charge at the new one — for the next invoice
    (https://docs.stripe.com/billing/subscriptions/prorations)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(
        customer.id, [{"price": catalog.seat.id, "quantity": 10}, *catalog.metered_items()]
    )
    seat = _seat_item(subscription, catalog)
    updated = client.v1.subscription_items.update(
        seat.id, {"quantity": 12, "proration_behavior": "create_prorations"}, {"idempotency_key": f"{seat.id}-12"}
    )
    assert updated.quantity == 12
    pending = _pending(client, customer.id)
    assert len(pending) == 2
    credit = next(item for item in pending if item.amount < 0)
    charge = next(item for item in pending if item.amount > 0)
    # The change comes seconds after the period start: almost the whole period is prorated.
    assert -35_000 <= credit.amount <= -34_900
    assert 41_900 <= charge.amount <= 42_000
    assert all(item.proration for item in pending)
    assert (credit.quantity, charge.quantity) == (10, 12)
    assert credit.period.end == charge.period.end == seat.current_period_end
    for item in pending:
        assert item.parent is not None
        assert item.parent.subscription_details is not None
        assert item.parent.subscription_details.subscription == subscription.id
    first = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert first.amount_due == 35_000  # the draft first invoice keeps what it had


def test_always_invoice_bills_the_prorations_at_once(client: stripe.StripeClient, make: Factory) -> None:
    """``always_invoice`` invoices the prorations immediately on a finalized invoice
    (https://docs.stripe.com/billing/subscriptions/prorations#immediately-invoicing-prorations)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id, "quantity": 10}])
    seat = _seat_item(subscription, catalog)
    client.v1.subscription_items.update(seat.id, {"quantity": 12, "proration_behavior": "always_invoice"})
    refreshed = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice"]})
    invoice = refreshed.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert invoice.id != subscription.latest_invoice
    assert (invoice.billing_reason, invoice.status) == ("subscription_update", "open")
    assert 6_900 <= invoice.amount_due <= 7_000
    assert len(invoice.lines.data) == 2
    assert _pending(client, customer.id) == []


def test_proration_behavior_none_bills_nothing(client: stripe.StripeClient, make: Factory) -> None:
    """``proration_behavior=none`` changes the quantity without prorations
    (https://docs.stripe.com/billing/subscriptions/prorations#disable-prorations)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id, "quantity": 10}])
    updated = client.v1.subscriptions.update(
        subscription.id,
        {"items": [{"id": _seat_item(subscription, catalog).id, "quantity": 4}], "proration_behavior": "none"},
    )
    assert _seat_item(updated, catalog).quantity == 4
    assert _pending(client, customer.id) == []


def test_items_can_be_added_and_removed_but_not_the_last(client: stripe.StripeClient, make: Factory) -> None:
    """A new item joins the current period; an item can be deleted, but not the last one
    (https://docs.stripe.com/api/subscription_items/create, https://docs.stripe.com/api/subscription_items/delete)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id, "quantity": 1}])
    seat = _seat_item(subscription, catalog)
    sms = client.v1.subscription_items.create({"subscription": subscription.id, "price": catalog.sms.id})
    assert (sms.quantity, sms.current_period_end) == (None, seat.current_period_end)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_items.create({"subscription": subscription.id, "price": catalog.sms.id})

    deleted = client.v1.subscription_items.delete(seat.id, {"proration_behavior": "none"})
    assert (deleted.id, deleted.deleted) == (seat.id, True)
    remaining = client.v1.subscription_items.list({"subscription": subscription.id}).data
    assert [item.id for item in remaining] == [sms.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscription_items.delete(sms.id)
    assert caught.value.http_status == 400


def test_cancel_now_bills_a_final_invoice(client: stripe.StripeClient, make: Factory) -> None:
    """``invoice_now`` + ``prorate`` ends the subscription now with a final invoice crediting the unused
    time (https://docs.stripe.com/api/subscriptions/cancel#cancel_subscription-invoice_now,
    https://docs.stripe.com/billing/subscriptions/cancel#prorate-and-invoice)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id, "quantity": 2}, *catalog.metered_items()])
    first = str(subscription.latest_invoice)
    client.v1.invoices.finalize_invoice(first)
    canceled = client.v1.subscriptions.cancel(subscription.id, {"invoice_now": True, "prorate": True})
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    assert canceled.ended_at is not None
    assert canceled.cancellation_details is not None
    assert canceled.cancellation_details.reason == "cancellation_requested"
    assert canceled.latest_invoice not in (None, first)
    final = client.v1.invoices.retrieve(str(canceled.latest_invoice))
    assert final.status in ("open", "paid")
    credits = [line for line in final.lines.data if line.amount < 0]
    assert credits
    assert -7_000 <= sum(line.amount for line in credits) <= -6_900
    assert final.amount_due == 0
    assert _pending(client, customer.id) == []


def test_canceling_twice_is_resource_missing(client: stripe.StripeClient, make: Factory) -> None:
    """A canceled subscription cannot be canceled again (https://docs.stripe.com/api/subscriptions/cancel)."""
    customer = make.customer()
    subscription = make.subscription(customer.id, [{"price": make.catalog().seat.id}])
    client.v1.subscriptions.cancel(subscription.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.cancel(subscription.id)
    assert caught.value.code == "resource_missing"


def test_canceled_subscription_only_takes_metadata(client: stripe.StripeClient, make: Factory) -> None:
    """ "After it's canceled, the subscription is largely immutable. You can still update its metadata and
    cancellation_details." (https://docs.stripe.com/api/subscriptions/cancel)."""
    customer = make.customer()
    subscription = make.subscription(customer.id, [{"price": make.catalog().seat.id}])
    client.v1.subscriptions.cancel(subscription.id)
    assert client.v1.subscriptions.update(subscription.id, {"metadata": {"note": "x"}}).metadata["note"] == "x"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert caught.value.code == "invalid_canceled_subscription_fields"


def test_cancel_at_period_end(client: stripe.StripeClient, make: Factory) -> None:
    """``cancel_at_period_end`` keeps the subscription active and schedules the end at the period end
    (https://docs.stripe.com/billing/subscriptions/cancel#cancel-at-end-of-cycle)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id}])
    updated = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert (updated.status, updated.cancel_at_period_end) == ("active", True)
    assert updated.cancel_at == _seat_item(subscription, catalog).current_period_end
    reverted = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": False})
    assert (reverted.cancel_at_period_end, reverted.cancel_at) == (False, None)


def test_cancel_at_period_end_ends_the_subscription_then(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: the subscription is canceled when its period ends
    (https://docs.stripe.com/billing/subscriptions/cancel#cancel-at-end-of-cycle)."""
    make = Factory(emulator_client, "period")
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id}, *catalog.metered_items()])
    updated = emulator_client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert updated.cancel_at == add_months(subscription.start_date)
    emulator.set_clock(int(updated.cancel_at) + 10)
    ended = emulator_client.v1.subscriptions.retrieve(subscription.id)
    assert (ended.status, ended.ended_at) == ("canceled", updated.cancel_at)
    assert emulator.events("customer.subscription.deleted")[-1]["request"] == {"id": None, "idempotency_key": None}


def test_list_by_customer_and_status(client: stripe.StripeClient, make: Factory) -> None:
    """Lists leave canceled subscriptions out unless ``status`` asks for them
    (https://docs.stripe.com/api/subscriptions/list#list_subscriptions-status)."""
    customer = make.customer()
    catalog = make.catalog()
    active = make.subscription(customer.id, [{"price": catalog.seat.id}])
    gone = make.subscription(customer.id, [{"price": catalog.case.id}])
    client.v1.subscriptions.cancel(gone.id)

    def ids(**params: Any) -> list[str]:
        listed = client.v1.subscriptions.list({"customer": customer.id, "limit": 100, **params})  # type: ignore[arg-type]
        return [subscription.id for subscription in listed.data]

    assert ids() == [active.id]
    assert ids(status="active") == [active.id]
    assert ids(status="canceled") == [gone.id]
    assert ids(status="all") == [gone.id, active.id]
    assert ids(status="ended") == [gone.id]


def test_lists_do_not_filter_on_metadata(client: stripe.StripeClient) -> None:
    """List endpoints take no ``metadata`` filter — search does (https://docs.stripe.com/api/subscriptions/list,
    https://docs.stripe.com/search)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.list(unchecked({"metadata": {"incytes_funder_id": "f1"}}))
    assert caught.value.code == "parameter_unknown"


def test_search_by_metadata(client: stripe.StripeClient, make: Factory, target: Target, uid: str) -> None:
    """Search finds subscriptions by metadata and status; Stripe's index lags (under a minute), so the
    test polls (https://docs.stripe.com/search#query-fields-for-subscriptions)."""
    customer = make.customer()
    catalog = make.catalog()
    mine = make.subscription(customer.id, [{"price": catalog.seat.id}], metadata={"incytes_funder_id": uid})
    make.subscription(customer.id, [{"price": catalog.case.id}], metadata={"incytes_funder_id": f"{uid}x"})
    query = f"metadata['incytes_funder_id']:'{uid}' AND status:'active'"

    def found() -> list[str] | None:
        result = client.v1.subscriptions.search({"query": query})
        return [subscription.id for subscription in result.data] or None

    assert eventually(found) == [mine.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.subscriptions.search({"query": f"nonsense_field:'{uid}'"})
    assert error_of(caught.value)["param"] == "query"


def test_search_query_language(emulator_client: stripe.StripeClient, emulator: StripeEmulator) -> None:
    """Emulator: negation, ``OR``, ``null``, numeric comparisons, and ``AND``/``OR`` not mixed
    (https://docs.stripe.com/search#search-query-language)."""
    make = Factory(emulator_client, "search")
    customer = make.customer()
    catalog = make.catalog()
    tagged = make.subscription(customer.id, [{"price": catalog.seat.id}], metadata={"team": "north"})
    plain = make.subscription(customer.id, [{"price": catalog.case.id}])

    def ids(query: str) -> list[str]:
        return [sub.id for sub in emulator_client.v1.subscriptions.search({"query": query}).data]

    assert ids("metadata['team']:null") == [plain.id]
    assert ids("-metadata['team']:null") == [tagged.id]
    assert ids("metadata['team']:'NORTH'") == [tagged.id]
    assert ids("metadata['team']:'south' OR status:'active'") == [plain.id, tagged.id]
    assert ids(f"created>={tagged.created} AND created<{tagged.created + 3600}") == [plain.id, tagged.id]
    with pytest.raises(stripe.InvalidRequestError):
        ids("status:'active' AND status:'canceled' OR created>1")
