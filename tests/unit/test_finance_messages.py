"""The messages Finance gets (domain/finance_messages.py), pinned to the letter: their keys (each is sent once per
key), subjects (SNS email subjects must stay under 100 characters), texts and data. Pure functions: no ports.
How EventProcessor, UsageReporter and Reconciler decide to send them is tested in their own modules."""

from __future__ import annotations

from datetime import timedelta

from incytes_billing.domain import finance_messages
from incytes_billing.domain.batch_checks import MeterWindow, UnattributedWindow
from incytes_billing.models.events import FinanceNotice
from incytes_billing.models.invoice import InvoiceLine, InvoiceRecord
from incytes_billing.models.stripe import StripeInvoice
from incytes_billing.models.subscription import FirstInvoice
from incytes_billing.models.usage import UsageRecord
from tests.fakes import NOW, subscribed_funder

NOW_EPOCH = int(NOW.timestamp())
FUNDER = subscribed_funder(name="Acme Health")


def first_invoice(**changes: object) -> InvoiceRecord:
    """f1's first invoice, a 1,234.50 USD draft of two lines created 3 days before NOW, in test mode."""
    values: dict[str, object] = {
        "invoice_id": "in_1",
        "funder_id": "f1",
        "customer_id": "cus_1",
        "subscription_id": "sub_1",
        "status": "draft",
        "amount_due": 123450,
        "currency": "usd",
        "number": "A-0001",
        "period_start": NOW_EPOCH - 3 * 86400,
        "period_end": NOW_EPOCH + 27 * 86400,
        "lines": [InvoiceLine(description="Seats", amount=120000), InvoiceLine(amount=3450)],
        "first_invoice": True,
        "review_status": "pending",
        "stripe_created": NOW_EPOCH - 3 * 86400 - 60,
    }
    return InvoiceRecord.model_validate({**values, **changes})


def parts(notice: FinanceNotice) -> tuple[str, str, str, str]:
    return notice.key, notice.event_type, notice.subject, notice.text


def test_review_requested_says_what_to_review_and_how_to_approve() -> None:
    notice = finance_messages.review_requested(
        FUNDER, first_invoice(), livemode=False, api_base_url="https://api.example/prod/"
    )
    assert notice.key == "invoice-review#in_1"
    assert notice.event_type == "invoice.review_requested"
    assert notice.subject == "Invoice to review: Acme Health (1,234.50 USD)"
    assert notice.text == (
        "The first invoice of Acme Health (funder f1) is a draft waiting for your review.\n"
        "\n"
        "Invoice: A-0001 (in_1)\n"
        "Amount due: 1,234.50 USD\n"
        "Period: 2026-11-22 to 2026-12-22\n"
        "Lines:\n"
        "  - Seats: 1,200.00 USD\n"
        "  - line: 34.50 USD\n"
        "\n"
        "Stripe Dashboard: https://dashboard.stripe.com/test/invoices/in_1\n"
        "To approve: press Finalize on the invoice in the Stripe Dashboard, or call\n"
        "POST https://api.example/prod/invoices/in_1/approve\n"
        "Once finalized, Stripe collects it (charges it, or emails it with reminders)."
    )
    assert notice.data == {
        "type": "invoice.review_requested",
        "funder_id": "f1",
        "funder_name": "Acme Health",
        "invoice": first_invoice().api_view(),
        "dashboard_url": "https://dashboard.stripe.com/test/invoices/in_1",
        "approve_url": "https://api.example/prod/invoices/in_1/approve",
        "attention": None,
    }


def test_review_requested_warns_first_when_the_invoice_must_not_be_approved() -> None:
    invoice = first_invoice(attention="subscription sub_2 is not linked to funder f1", lines=[], number=None)
    notice = finance_messages.review_requested(FUNDER, invoice, livemode=True, api_base_url="https://api.example")
    assert notice.text.splitlines()[:4] == [
        "The first invoice of Acme Health (funder f1) is a draft waiting for your review.",
        "",
        "DO NOT APPROVE YET: subscription sub_2 is not linked to funder f1",
        "",
    ]
    assert "Invoice: in_1 (in_1)\n" in notice.text
    assert "Lines:\n  (none)\n" in notice.text
    assert "Stripe Dashboard: https://dashboard.stripe.com/invoices/in_1\n" in notice.text  # live: no /test
    assert notice.data["attention"] == "subscription sub_2 is not linked to funder f1"


def test_subjects_shorten_the_funders_name_and_keep_the_amount() -> None:
    funder = subscribed_funder(name="N" * 150)
    notice = finance_messages.review_requested(
        funder, first_invoice(), livemode=False, api_base_url="https://api.example"
    )
    assert len(notice.subject) == 99
    assert notice.subject.endswith("N… (1,234.50 USD)")
    assert notice.subject.startswith("Invoice to review: NNN")


def test_a_reminder_is_the_review_request_again_once_a_day() -> None:
    invoice = first_invoice()
    asked = finance_messages.review_requested(FUNDER, invoice, livemode=False, api_base_url="https://api.example")
    reminder = finance_messages.review_reminder(FUNDER, invoice, api_base_url="https://api.example", now=NOW)
    assert reminder.key == "invoice-review-reminder#in_1#2026-11-25"
    assert reminder.event_type == "invoice.review_reminder"
    assert reminder.subject == "Still to review (3 d): Acme Health"
    assert reminder.text == f"Reminder: this draft has waited 3 days for review.\n\n{asked.text}"
    assert reminder.data == asked.data
    tomorrow = finance_messages.review_reminder(
        FUNDER, invoice, api_base_url="https://api.example", now=NOW + timedelta(days=1)
    )
    assert (tomorrow.key, tomorrow.subject) == (
        "invoice-review-reminder#in_1#2026-11-26",
        "Still to review (4 d): Acme Health",
    )


def test_review_missed_and_payment_failed_name_the_invoice_and_link_it() -> None:
    invoice = first_invoice(status="open", review_status="missed")
    missed = finance_messages.review_missed(FUNDER, invoice, livemode=False)
    assert parts(missed) == (
        "invoice-review-missed#in_1",
        "invoice.review_missed",
        "Finalized WITHOUT review: Acme Health (1,234.50 USD)",
        "The first invoice A-0001 of Acme Health (funder f1), 1,234.50 USD, was finalized by Stripe before anyone "
        "reviewed it (status: open). Stripe is collecting it. Check it now; if it is wrong, void it or issue a "
        "credit note in the Stripe Dashboard.\nStripe Dashboard: https://dashboard.stripe.com/test/invoices/in_1",
    )
    assert missed.data == {"type": "invoice.review_missed", "funder_id": "f1", "invoice": invoice.api_view()}

    failed = finance_messages.payment_failed(FUNDER, invoice, "evt_9", livemode=True)
    assert parts(failed) == (
        "invoice-payment-failed#in_1#evt_9",
        "invoice.payment_failed",
        "Payment failed: Acme Health (1,234.50 USD)",
        "Stripe could not collect invoice A-0001 of Acme Health (funder f1), 1,234.50 USD.\n"
        "Stripe Dashboard: https://dashboard.stripe.com/invoices/in_1",
    )
    assert failed.data == {"type": "invoice.payment_failed", "funder_id": "f1", "invoice": invoice.api_view()}


def test_a_cancellation_lists_what_finance_must_now_collect() -> None:
    first = FirstInvoice(id="in_1", status="void", amount_due=123450, currency="usd", review_status="canceled")
    assert FUNDER.subscription is not None
    funder = FUNDER.model_copy(update={"subscription": FUNDER.subscription.model_copy(update={"first_invoice": first})})
    unpaid = [
        StripeInvoice("in_2", "open", 5000, "usd", True, "subscription_cycle", "sub_1", number="A-0002"),
        StripeInvoice("in_3", "open", 7000, "usd", True, "subscription_cycle", "sub_1", amount_remaining=2500),
    ]
    notice = finance_messages.subscription_canceled(funder, "sub_1", unpaid, livemode=False)
    assert parts(notice) == (
        "subscription-canceled#sub_1",
        "subscription.canceled",
        "Subscription canceled: Acme Health (2 unpaid)",
        "Subscription sub_1 of Acme Health (funder f1) has been canceled.\n"
        "Its first invoice in_1 was never approved: it is voided, nothing of it is owed.\n"
        "Stripe no longer collects these finalized invoices; collect them yourself:\n"
        "  - A-0002: 50.00 USD still due (https://dashboard.stripe.com/test/invoices/in_2)\n"
        "  - in_3: 25.00 USD still due (https://dashboard.stripe.com/test/invoices/in_3)",
    )
    assert notice.data == {
        "type": "subscription.canceled",
        "funder_id": "f1",
        "subscription_id": "sub_1",
        "unreviewed_first_invoice_voided": "in_1",
        "unpaid_invoices": [
            {"id": "in_2", "number": "A-0002", "amount_remaining": None},
            {"id": "in_3", "number": None, "amount_remaining": 2500},
        ],
    }
    nothing_left = finance_messages.subscription_canceled(FUNDER, "sub_1", [], livemode=False)
    assert nothing_left.text == (
        "Subscription sub_1 of Acme Health (funder f1) has been canceled.\nNo finalized invoice of it is left unpaid."
    )
    assert nothing_left.data["unreviewed_first_invoice_voided"] is None


def test_unbillable_usage_is_told_once_per_set_of_records() -> None:
    records = [
        UsageRecord(funder_id="f1", usage_id=f"u{n:03}", kind="case", quantity=2, occurred_at="x", recorded_at="x")
        for n in range(25)
    ]
    notice = finance_messages.usage_unbillable(FUNDER, "case", "its billing period was already invoiced", records)
    assert notice.key.startswith("usage-unbillable#f1#case#")
    assert notice.key == finance_messages.usage_unbillable(FUNDER, "case", "other", records[::-1]).key
    assert notice.key != finance_messages.usage_unbillable(FUNDER, "case", "other", records[1:]).key
    assert notice.subject == "Usage not billable: Acme Health (case)"
    shown = ", ".join(f"u{n:03}" for n in range(20))
    assert notice.text == (
        "25 case usage record(s) of Acme Health (funder f1), 50 in all, will not be billed: its billing period was "
        "already invoiced.\nThey stay in the ledger as unbillable (GET /funders/f1/usage).\n"
        f"Records: {shown} and 5 more"
    )
    assert notice.data == {
        "type": "usage.unbillable",
        "funder_id": "f1",
        "kind": "case",
        "reason": "its billing period was already invoiced",
        "records": 25,
        "quantity": 50,
        "usage_ids": [f"u{n:03}" for n in range(25)],
    }


def test_a_discrepancy_names_both_counts_and_the_window() -> None:
    start, end = NOW_EPOCH - 86400, NOW_EPOCH
    notice = finance_messages.usage_discrepancy(FUNDER, "sms", start, end, ledger=10, in_flight=3, stripe=7)
    assert parts(notice) == (
        f"usage-discrepancy#f1#sms#{start}#10#7",
        "usage.discrepancy",
        "Usage mismatch: Acme Health (sms)",
        "For Acme Health (funder f1), sms usage reported from 2026-11-24T12:00:00.000000Z to "
        "2026-11-25T12:00:00.000000Z is 10 (plus 3 not confirmed yet) in our ledger but 7 in Stripe's meter "
        "summaries.",
    )
    assert notice.data == {
        "type": "usage.discrepancy",
        "funder_id": "f1",
        "kind": "sms",
        "ledger": 10,
        "in_flight": 3,
        "stripe": 7,
        "from": start,
        "to": end,
    }
    settled = finance_messages.usage_discrepancy(FUNDER, "sms", start, end, ledger=10, in_flight=0, stripe=7)
    assert " is 10 in our ledger but 7 " in settled.text


def test_unattributed_batches_are_named_for_finance_to_check() -> None:
    window = MeterWindow("cus_1", "incytes_sms", NOW_EPOCH - 3600, NOW_EPOCH)
    notice = finance_messages.usage_unattributed(UnattributedWindow(window, 4, ["b1", "b2"]))
    assert parts(notice) == (
        f"usage-unattributed#cus_1#incytes_sms#{NOW_EPOCH - 3600}#4",
        "usage.unattributed",
        "Usage to check: incytes_sms for cus_1",
        "Stripe's meter summary for customer cus_1 on incytes_sms from 2026-11-25T11:00:00.000000Z to "
        "2026-11-25T12:00:00.000000Z counts 4, which no single set of our 2 unconfirmed meter events there adds "
        "up to. Their usage stays pending until checked: batches b1, b2.",
    )
    assert notice.data == {
        "type": "usage.unattributed",
        "window": {"customer_id": "cus_1", "event_name": "incytes_sms", "start": NOW_EPOCH - 3600, "end": NOW_EPOCH},
        "stripe_found": 4,
        "batch_ids": ["b1", "b2"],
    }
