"""SubscriptionService rules (docs/business-rules.md, contract.md, stripe-facts.md), with in-memory ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from incytes_billing.domain.policy import SubscriptionPolicy
from incytes_billing.domain.subscriptions import SubscriptionService
from incytes_billing.errors import (
    CatalogIncomplete,
    CustomerHasSubscription,
    FirstInvoicePendingReview,
    SeatItemMissing,
    SmsItemRequired,
    StripeCustomerMissing,
    StripeUnavailable,
    SubscriptionCanceled,
    SubscriptionCustomerMismatch,
    SubscriptionExists,
    SubscriptionInProgress,
    SubscriptionLinkedElsewhere,
    SubscriptionMissing,
    SubscriptionNotFound,
)
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.stripe import (
    CatalogPrice,
    StripeSubscription,
)
from tests.fakes import NOW, Clock, MemoryFunders, MemoryStripe, new_funder

CATALOG = load_catalog()
POLICY = SubscriptionPolicy(
    collection_method="send_invoice", days_until_due=30, proration_behavior="create_prorations", automatic_tax=False
)
START = NOW


@pytest.fixture
def funders() -> MemoryFunders:
    return MemoryFunders(new_funder("f1", "cus_1", seats=3), new_funder("nocustomer", seats=3))


@pytest.fixture
def stripe() -> MemoryStripe:
    return MemoryStripe(CATALOG)


@pytest.fixture
def service(funders: MemoryFunders, stripe: MemoryStripe, clock: Clock) -> SubscriptionService:
    return SubscriptionService(funders, stripe, CATALOG, POLICY, clock=clock)


def test_creates_seats_cases_and_sms_and_holds_the_first_invoice(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    funder = service.create("f1", seats=None, currency=None)

    (request,) = stripe.created
    assert (request.seat_price_id, request.seats) == ("price_incytes_seat_usd", 3)
    assert request.metered_price_ids == ("price_incytes_case_usd", "price_incytes_sms_usd")
    assert (request.collection_method, request.days_until_due) == ("send_invoice", 30)
    assert request.idempotency_key == "incytes:f1:subscription:1"
    record = funder.subscription
    assert record is not None
    assert record.schedule_id is not None
    assert stripe.released == [record.schedule_id]
    assert [item.kind for item in record.items] == ["seat", "case", "sms"]
    assert record.first_invoice is not None
    assert (record.first_invoice.status, record.first_invoice.review_status) == ("draft", "pending")
    assert stripe.invoices[record.first_invoice.id].auto_advance is False
    assert funder.subscription_claim_expires_at is None


def test_body_seats_and_currency_win(service: SubscriptionService, stripe: MemoryStripe) -> None:
    funder = service.create("f1", seats=7, currency="eur")
    assert (stripe.created[0].seats, stripe.created[0].currency) == (7, "eur")
    assert stripe.created[0].seat_price_id == "price_incytes_seat_eur"
    assert (funder.seats, funder.currency) == (7, "eur")


def test_without_customer_nothing_reaches_stripe(service: SubscriptionService, stripe: MemoryStripe) -> None:
    with pytest.raises(StripeCustomerMissing, match="Update the funder's Stripe Customer ID"):
        service.create("nocustomer", seats=None, currency=None)
    assert stripe.calls == 0


def test_second_click_names_the_existing_subscription(service: SubscriptionService, stripe: MemoryStripe) -> None:
    first = service.create("f1", seats=None, currency=None)
    assert first.subscription is not None
    with pytest.raises(SubscriptionExists, match=first.subscription.subscription_id):
        service.create("f1", seats=None, currency=None)
    assert len(stripe.created) == 1


def test_missing_catalog_price_names_the_lookup_key(service: SubscriptionService, stripe: MemoryStripe) -> None:
    del stripe.prices["incytes_sms_eur"]
    with pytest.raises(CatalogIncomplete, match="incytes_sms_eur"):
        service.create("f1", seats=None, currency="eur")
    assert stripe.created == []


def test_crash_after_stripe_succeeded_adopts_the_tagged_subscription(
    service: SubscriptionService, stripe: MemoryStripe, funders: MemoryFunders, clock: Clock
) -> None:
    # A previous run created the subscription in Stripe, then died before writing DynamoDB.
    orphan = stripe.add_subscription("cus_1", ["price_incytes_seat_usd", "price_incytes_sms_usd"], funder_id="f1")
    funders.items["f1"] = funders.items["f1"].model_copy(
        update={"subscription_attempts": 1, "subscription_claim_expires_at": int(START.timestamp()) + 60}
    )
    with pytest.raises(SubscriptionInProgress):  # the crashed run's claim still holds
        service.create("f1", seats=None, currency=None)
    clock.now = START + timedelta(seconds=61)

    funder = service.create("f1", seats=None, currency=None)

    assert funder.subscription is not None
    assert funder.subscription.subscription_id == orphan.subscription_id
    assert stripe.created == []
    assert funder.subscription.first_invoice is not None
    assert stripe.invoices[funder.subscription.first_invoice.id].auto_advance is False


def test_a_failed_attempt_frees_the_claim_and_the_retry_uses_a_new_key(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    stripe.fail_next_create = StripeUnavailable("down")
    with pytest.raises(StripeUnavailable):
        service.create("f1", seats=None, currency=None)
    service.create("f1", seats=None, currency=None)
    # Stripe replays a saved 500 for a reused key: the second attempt must not reuse the first's.
    assert [request.idempotency_key for request in stripe.created] == ["incytes:f1:subscription:2"]


def test_canceled_tagged_subscription_is_not_adopted(service: SubscriptionService, stripe: MemoryStripe) -> None:
    stripe.add_subscription("cus_1", ["price_incytes_sms_usd"], funder_id="f1", status="canceled")
    service.create("f1", seats=None, currency=None)
    assert len(stripe.created) == 1


def link_sms_sub(stripe: MemoryStripe, **kwargs: object) -> StripeSubscription:
    return stripe.add_subscription(
        kwargs.pop("customer", "cus_1"),  # type: ignore[arg-type]
        ["price_custom_seat", "price_incytes_sms_usd"],
        **kwargs,  # type: ignore[arg-type]
    )


def test_link_records_items_by_product_tags_and_holds_first_draft(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    stripe.prices["custom_seat"] = CatalogPrice("custom_seat", "price_custom_seat", "incytes_seat", "usd")
    subscription = link_sms_sub(stripe)

    funder = service.link("f1", subscription.subscription_id)

    record = funder.subscription
    assert record is not None
    assert record.origin == "linked"
    assert [(item.kind, item.price_id) for item in record.items] == [
        ("seat", "price_custom_seat"),
        ("sms", "price_incytes_sms_usd"),
    ]
    assert stripe.subscriptions[subscription.subscription_id].funder_id == "f1"
    assert record.first_invoice is not None
    assert record.first_invoice.review_status == "pending"
    # Linking again is harmless.
    assert service.link("f1", subscription.subscription_id).subscription == record


def test_link_refusals(service: SubscriptionService, stripe: MemoryStripe) -> None:
    with pytest.raises(SubscriptionNotFound):
        service.link("f1", "sub_nope")
    other = link_sms_sub(stripe, customer="cus_other")
    with pytest.raises(SubscriptionCustomerMismatch, match="cus_other"):
        service.link("f1", other.subscription_id)
    canceled = link_sms_sub(stripe, status="canceled")
    with pytest.raises(SubscriptionCanceled):
        service.link("f1", canceled.subscription_id)
    no_sms = stripe.add_subscription("cus_1", ["price_incytes_seat_usd", "price_incytes_case_usd"])
    with pytest.raises(SmsItemRequired, match="incytes_sms"):
        service.link("f1", no_sms.subscription_id)
    elsewhere = link_sms_sub(stripe, funder_id="f9")
    with pytest.raises(SubscriptionLinkedElsewhere, match="f9"):
        service.link("f1", elsewhere.subscription_id)
    with pytest.raises(StripeCustomerMissing):
        service.link("nocustomer", other.subscription_id)


def test_seats_wait_for_the_first_invoice_review(service: SubscriptionService, stripe: MemoryStripe) -> None:
    funder = service.create("f1", seats=None, currency=None)
    assert funder.subscription is not None
    assert funder.subscription.first_invoice is not None
    with pytest.raises(FirstInvoicePendingReview):
        service.change_seats("f1", 5)
    assert stripe.quantity_changes == []

    # Finance finalized it in the Dashboard; the local record has not heard yet: Stripe decides.
    invoice_id = funder.subscription.first_invoice.id
    stripe.invoices[invoice_id] = replace(stripe.invoices[invoice_id], status="open")
    changed = service.change_seats("f1", 5)

    seat = funder.subscription.item("seat")
    assert seat is not None
    assert stripe.quantity_changes == [(seat.item_id, 5, "create_prorations")]
    assert changed.seats == 5
    assert changed.subscription is not None
    changed_seat = changed.subscription.item("seat")
    assert changed_seat is not None
    assert changed_seat.quantity == 5
    assert changed.subscription.first_invoice is not None
    assert changed.subscription.first_invoice.status == "open"
    service.change_seats("f1", 5)  # same number: no Stripe call
    assert len(stripe.quantity_changes) == 1


def test_seats_need_a_subscription_with_a_seat_item(service: SubscriptionService, stripe: MemoryStripe) -> None:
    with pytest.raises(SubscriptionMissing):
        service.change_seats("f1", 2)
    sms_only = stripe.add_subscription("cus_1", ["price_incytes_sms_usd"], invoice_status="open")
    service.link("f1", sms_only.subscription_id)
    with pytest.raises(SeatItemMissing):
        service.change_seats("f1", 2)


def test_cancel_at_period_end_then_now(service: SubscriptionService, stripe: MemoryStripe) -> None:
    with pytest.raises(SubscriptionMissing):
        service.cancel("f1", "period_end")
    service.create("f1", seats=None, currency=None)
    ending = service.cancel("f1", "period_end")
    assert ending.subscription is not None
    assert (ending.subscription.status, ending.subscription.cancel_at_period_end) == ("active", True)
    assert service.cancel("f1", "period_end") == ending  # repeated: nothing changes
    ended = service.cancel("f1", "now")
    assert ended.subscription is not None
    assert ended.subscription.status == "canceled"
    assert ended.subscription.first_invoice is not None
    assert (ended.subscription.first_invoice.status, ended.subscription.first_invoice.review_status) == (
        "void",
        "canceled",
    )
    with pytest.raises(SubscriptionMissing):
        service.cancel("f1", "now")
    # A canceled subscription no longer blocks a new one.
    assert service.create("f1", seats=None, currency=None).is_subscribed


def test_canceling_now_before_review_voids_the_first_invoice_and_credits_no_seats(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    """Issue 9 §3: Stripe credited "Unused time on 3 × seat" for seats never billed, and the $105 draft stayed
    pending (approve then finalized it)."""
    created = service.create("f1", seats=None, currency=None)
    assert created.subscription is not None
    assert created.subscription.first_invoice is not None
    first_id = created.subscription.first_invoice.id

    ended = service.cancel("f1", "now")

    assert stripe.invoices[first_id].status == "void"
    assert stripe.cancellations == [(created.subscription.subscription_id, False)]  # no proration credit
    assert ended.subscription is not None
    assert ended.subscription.first_invoice is not None
    assert ended.subscription.first_invoice.review_status == "canceled"


def test_canceling_now_after_approval_prorates(service: SubscriptionService, stripe: MemoryStripe) -> None:
    created = service.create("f1", seats=None, currency=None)
    assert created.subscription is not None
    assert created.subscription.first_invoice is not None
    first_id = created.subscription.first_invoice.id
    stripe.finalize_invoice(first_id)  # approved (here or in the Dashboard)
    service.change_seats("f1", 4)  # reads Stripe: the record now knows the first invoice is finalized

    service.cancel("f1", "now")

    assert stripe.invoices[first_id].status == "open"
    assert stripe.cancellations == [(created.subscription.subscription_id, True)]


def test_a_retry_after_finalizing_for_void_completes_the_void(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    created = service.create("f1", seats=None, currency=None)
    assert created.subscription is not None
    assert created.subscription.first_invoice is not None
    first_id = created.subscription.first_invoice.id
    stripe.finalize_invoice(first_id, auto_advance=False)  # an earlier attempt failed between finalize and void

    service.cancel("f1", "now")

    assert stripe.invoices[first_id].status == "void"
    assert stripe.cancellations == [(created.subscription.subscription_id, False)]


def test_a_first_invoice_already_finalized_at_creation_is_missed_not_approved(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    """Issue 9 §2: found open (a crash, or held too late), it was recorded `approved`."""
    original = stripe.add_subscription

    def finalized_first(*args: object, **kwargs: object) -> StripeSubscription:
        kwargs["invoice_status"] = "open"
        return original(*args, **kwargs)  # type: ignore[arg-type]

    stripe.add_subscription = finalized_first  # type: ignore[method-assign]
    funder = service.create("f1", seats=None, currency=None)
    assert funder.subscription is not None
    assert funder.subscription.first_invoice is not None
    assert funder.subscription.first_invoice.review_status == "missed"


def test_a_customer_with_another_live_subscription_gets_no_second_one(
    service: SubscriptionService, stripe: MemoryStripe
) -> None:
    """Issue 9 §4: meters count per customer, so a second subscription would bill every case and SMS twice."""
    manual = stripe.add_subscription("cus_1", ["price_incytes_sms_usd"])
    with pytest.raises(CustomerHasSubscription, match=f"{manual.subscription_id}.*PUT /funders/f1/subscription"):
        service.create("f1", seats=None, currency=None)
    assert stripe.created == []
    # Canceled, it no longer stands in the way.
    stripe.subscriptions[manual.subscription_id] = replace(manual, status="canceled")
    assert service.create("f1", seats=None, currency=None).is_subscribed
