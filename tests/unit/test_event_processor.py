"""EventProcessor (domain/event_processor.py) on the events of a funder's billing: Finance's review of a first invoice
(pending, held, approved, missed, canceled), the notices Finance gets (review, missed, payment failed,
cancellation, reminders), statuses that never move back, and the periodic check of held drafts. In-memory ports;
the edges (unlinked customers, one-off invoices, long invoices) are in test_event_processor_edges.py.

Stripe facts relied on: an event's `request.id` names the API request (ours, or the Dashboard's) that caused it;
"If null, the event was automatic" (https://docs.stripe.com/api/events/object); with auto_advance on, Stripe
finalizes a draft itself "after one hour" (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incytes_billing.models.invoice import InvoiceRecord
from incytes_billing.models.stripe import StripeInvoice
from tests.fakes import NOW, MemoryFunders
from tests.stripe_fixtures import invoice_object, subscription_object
from tests.unit.event_harness import API_BASE_URL, NOW_EPOCH, Harness

FIRST = "in_first"


@pytest.fixture
def harness(funders: MemoryFunders) -> Harness:
    """Funder f1 linked to cus_1 and billed by sub_1 (tests/unit/conftest.py)."""
    return Harness(funders)


def first_invoice(status: str = "draft", **changes: Any) -> dict[str, Any]:
    """sub_1's first invoice as Stripe renders it, created an hour ago with auto_advance on."""
    fields = {"billing_reason": "subscription_create", "auto_advance": True, "created": NOW_EPOCH - 3600}
    return invoice_object(FIRST, "cus_1", subscription_id="sub_1", status=status, **{**fields, **changes})


def renewal(status: str, invoice_id: str = "in_r") -> dict[str, Any]:
    """An invoice of sub_1's monthly renewal: no review needed."""
    return invoice_object(
        invoice_id, "cus_1", subscription_id="sub_1", status=status, billing_reason="subscription_cycle"
    )


def created_and_held(harness: Harness) -> None:
    """Stripe made the draft, the webhook told us, we held it and Finance was asked to review it."""
    draft = first_invoice()
    harness.stripe.add(draft)
    assert harness.apply("invoice.created", draft, age=timedelta(seconds=30)) == "processed"


def record(harness: Harness, invoice_id: str = FIRST) -> InvoiceRecord:
    stored = harness.invoices.get(invoice_id)
    assert stored is not None
    return stored


def notices(harness: Harness) -> list[str]:
    return [notice.event_type for notice in harness.finance.published]


# --- the first invoice: held for Finance's review --------------------------------------------------------------


def test_a_first_invoice_draft_is_held_recorded_pending_and_finance_asked_to_review_it(
    harness: Harness, funders: MemoryFunders
) -> None:
    created_and_held(harness)

    assert harness.stripe.invoices[FIRST].auto_advance is False  # Stripe will not finalize it by itself
    assert (record(harness).first_invoice, record(harness).review_status) == (True, "pending")
    (notice,) = harness.finance.published
    assert (notice.key, notice.event_type) == (f"invoice-review#{FIRST}", "invoice.review_requested")
    assert f"POST {API_BASE_URL}/invoices/{FIRST}/approve" in notice.text
    assert "Line 1: 10.00 USD" in notice.text
    assert notice.data["approve_url"] == f"{API_BASE_URL}/invoices/{FIRST}/approve"
    funder = funders.get("f1")
    assert funder is not None
    assert funder.subscription is not None
    first = funder.subscription.first_invoice
    assert first is not None
    assert (first.id, first.status, first.review_status) == (FIRST, "draft", "pending")


def test_finance_hears_of_a_first_invoice_once_however_often_stripe_tells_us(harness: Harness) -> None:
    created_and_held(harness)
    assert harness.apply("invoice.created", first_invoice()) == "processed"  # a repeat delivery, a new event id
    assert harness.apply("invoice.updated", first_invoice()) == "processed"

    assert notices(harness) == ["invoice.review_requested"]


def test_a_first_invoice_stripe_finalized_before_it_could_be_held_is_missed_not_reviewed(harness: Harness) -> None:
    """The hold came too late: no review request for an invoice already open, and its finalization (automatic: no
    request) is reported as missed."""
    harness.stripe.add(first_invoice("open"))
    assert harness.apply("invoice.created", first_invoice(), age=timedelta(minutes=61)) == "processed"
    assert harness.finance.published == []

    assert harness.apply("invoice.finalized", first_invoice("open"), age=timedelta(minutes=1)) == "processed"

    assert record(harness).review_status == "missed"
    (notice,) = harness.finance.published
    assert (notice.key, notice.event_type) == (f"invoice-review-missed#{FIRST}", "invoice.review_missed")
    assert "before anyone reviewed it" in notice.text


def test_a_first_invoice_finalized_by_a_request_is_approved_and_nobody_is_warned(harness: Harness) -> None:
    created_and_held(harness)
    harness.stripe.finalize_invoice(FIRST, auto_advance=True)

    finalized = first_invoice("open")
    assert harness.apply("invoice.finalized", finalized, request_id="req_approve") == "processed"

    assert (record(harness).status, record(harness).review_status) == ("open", "approved")
    assert notices(harness) == ["invoice.review_requested"]


def test_a_first_invoice_finalized_in_the_dashboard_while_held_is_released_for_collection(harness: Harness) -> None:
    """Finalize pressed in the Dashboard keeps auto_advance false: Stripe would never collect it."""
    created_and_held(harness)
    harness.stripe.finalize_invoice(FIRST, auto_advance=False)

    finalized = first_invoice("open", auto_advance=False)
    assert harness.apply("invoice.finalized", finalized, request_id="req_dashboard") == "processed"

    assert record(harness).review_status == "approved"
    assert harness.stripe.invoices[FIRST].auto_advance is True


def test_a_first_invoice_voided_unreviewed_is_canceled_and_stays_canceled(harness: Harness) -> None:
    created_and_held(harness)
    assert harness.apply("invoice.voided", first_invoice("void")) == "processed"
    assert record(harness).review_status == "canceled"

    # an older event arriving late changes nothing: a status never moves back
    assert harness.apply("invoice.finalized", first_invoice("open"), age=timedelta(seconds=10)) == "processed"
    assert (record(harness).status, record(harness).review_status) == ("void", "canceled")
    assert "invoice.review_missed" not in notices(harness)


def test_an_invoice_that_is_no_first_invoice_needs_no_review(harness: Harness) -> None:
    draft = renewal("draft")
    harness.stripe.add(draft)
    assert harness.apply("invoice.created", draft) == "processed"

    assert (record(harness, "in_r").first_invoice, record(harness, "in_r").review_status) == (False, "not_required")
    assert harness.stripe.held == []
    assert harness.finance.published == []


def test_a_first_invoice_of_a_subscription_not_linked_to_the_funder_warns_finance_not_to_approve(
    harness: Harness,
) -> None:
    """A subscription made in the Dashboard for the funder's customer: its usage would not be reported."""
    draft = invoice_object(
        "in_manual", "cus_1", subscription_id="sub_Manual", billing_reason="subscription_create", auto_advance=True
    )
    harness.stripe.add(draft)
    assert harness.apply("invoice.created", draft) == "processed"

    assert "sub_Manual is not linked to funder f1" in (record(harness, "in_manual").attention or "")
    (notice,) = harness.finance.published
    assert "DO NOT APPROVE YET" in notice.text


# --- statuses never move back ----------------------------------------------------------------------------------


def test_an_older_event_does_not_undo_a_later_status(harness: Harness) -> None:
    assert harness.apply("invoice.paid", renewal("paid")) == "processed"
    assert harness.apply("invoice.finalized", renewal("open"), age=timedelta(seconds=5)) == "processed"

    assert record(harness, "in_r").status == "paid"


def test_a_same_second_disagreement_is_settled_by_asking_stripe(harness: Harness) -> None:
    """paid and uncollectible rank alike: two events of the same second cannot tell which came last."""
    uncollectible, paid = renewal("uncollectible"), renewal("paid")
    harness.stripe.add(paid)  # what Stripe says now
    assert harness.apply("invoice.marked_uncollectible", uncollectible) == "processed"
    assert harness.apply("invoice.paid", paid) == "processed"
    assert record(harness, "in_r").status == "paid"

    harness.stripe.invoices["in_r"] = StripeInvoice("in_r", "paid", 1000, "usd", False, None, "sub_1")
    assert harness.apply("invoice.marked_uncollectible", uncollectible) == "processed"
    assert record(harness, "in_r").status == "paid"  # Stripe still says paid


# --- other notices ---------------------------------------------------------------------------------------------


def test_every_failed_payment_is_reported(harness: Harness) -> None:
    failed = renewal("open")
    assert harness.apply("invoice.payment_failed", failed) == "processed"
    assert harness.apply("invoice.payment_failed", failed, age=timedelta(seconds=-60)) == "processed"  # a retry

    assert notices(harness) == ["invoice.payment_failed", "invoice.payment_failed"]
    assert "Stripe could not collect invoice in_r" in harness.finance.published[0].text


def test_a_canceled_subscription_tells_finance_what_it_must_collect_itself(
    harness: Harness, funders: MemoryFunders
) -> None:
    """Once a subscription is canceled Stripe stops collecting its open invoices; an unreviewed first invoice is
    voided with it."""
    created_and_held(harness)
    harness.stripe.add(renewal("open", "in_open"))
    items = [("si_seat", "price_seat", "incytes_seat")]
    canceled = subscription_object("sub_1", "cus_1", items, status="canceled", canceled_at=NOW_EPOCH)

    assert harness.apply("customer.subscription.deleted", canceled) == "processed"

    funder = funders.get("f1")
    assert funder is not None
    assert funder.subscription is not None
    assert (funder.subscription.status, funder.subscription.canceled_at) == ("canceled", NOW_EPOCH)
    notice = harness.finance.published[-1]
    assert (notice.key, notice.event_type) == ("subscription-canceled#sub_1", "subscription.canceled")
    assert notice.data["unreviewed_first_invoice_voided"] == FIRST
    assert notice.data["unpaid_invoices"] == [{"id": "in_open", "number": None, "amount_remaining": None}]
    assert "collect them yourself" in notice.text


def test_an_update_older_than_the_recorded_state_of_the_subscription_is_not_applied(
    harness: Harness, funders: MemoryFunders
) -> None:
    items = [("si_seat", "price_seat", "incytes_seat")]
    assert harness.apply("customer.subscription.updated", subscription_object("sub_1", "cus_1", items)) == "processed"
    stale = subscription_object("sub_1", "cus_1", items, cancel_at_period_end=True)
    assert harness.apply("customer.subscription.updated", stale, age=timedelta(minutes=1)) == "processed"

    funder = funders.get("f1")
    assert funder is not None
    assert funder.subscription is not None
    assert funder.subscription.cancel_at_period_end is False


def test_finance_is_reminded_of_drafts_waiting_too_long_once_a_day(harness: Harness) -> None:
    created_and_held(harness)  # created an hour ago
    assert harness.processor.remind_pending_reviews(older_than_days=2) == []

    old = first_invoice(created=NOW_EPOCH - 3 * 86400)
    harness.invoices.items.clear()
    harness.stripe.add(old)
    assert harness.apply("invoice.created", old) == "processed"
    assert harness.processor.remind_pending_reviews(older_than_days=2) == [FIRST]
    assert harness.processor.remind_pending_reviews(older_than_days=2) == [FIRST]  # the same day: one notice

    reminders = [n for n in harness.finance.published if n.event_type == "invoice.review_reminder"]
    assert [n.key for n in reminders] == [f"invoice-review-reminder#{FIRST}#{NOW.date().isoformat()}"]
    assert reminders[0].text.startswith("Reminder: this draft has waited 3 days for review.")


# --- the periodic check of held drafts ---------------------------------------------------------------------------


def test_a_draft_whose_hold_was_undone_is_held_again(harness: Harness) -> None:
    created_and_held(harness)
    harness.stripe.release_hold(FIRST)  # auto_advance back on: Stripe would finalize it within the hour

    assert harness.processor.check_held_drafts() == []

    assert harness.stripe.invoices[FIRST].auto_advance is False
    assert record(harness).review_status == "pending"


def test_a_pending_draft_stripe_finalized_meanwhile_is_recorded_missed_and_reported(
    harness: Harness, funders: MemoryFunders
) -> None:
    created_and_held(harness)
    harness.stripe.finalize_invoice(FIRST)  # its finalized event lost, or not yet here

    assert harness.processor.check_held_drafts() == [FIRST]

    assert (record(harness).status, record(harness).review_status) == ("open", "missed")
    assert notices(harness) == ["invoice.review_requested", "invoice.review_missed"]
    funder = funders.get("f1")
    assert funder is not None
    assert funder.subscription is not None
    assert funder.subscription.first_invoice is not None
    assert funder.subscription.first_invoice.review_status == "missed"
    assert harness.processor.check_held_drafts() == []  # no longer pending
