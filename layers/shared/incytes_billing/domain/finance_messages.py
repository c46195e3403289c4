"""Every message to Finance (SNS), built in one place: its key, subject, readable text and data for machines.

Pure functions of domain objects; callers decide when to send one (domain.finance publishes it once per key).
Subjects stay under SNS's 100-character limit for email subjects.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from incytes_billing.models.events import FinanceNotice
from incytes_billing.models.funder import Funder
from incytes_billing.models.invoice import InvoiceRecord
from incytes_billing.models.stripe import StripeInvoice
from incytes_billing.models.usage import UsageKind, UsageRecord, utc_text

if TYPE_CHECKING:  # batch_checks imports reporting, which builds its notices here
    from incytes_billing.domain.batch_checks import UnattributedWindow

# --- first invoices and subscriptions (domain.event_processor) ------------------------------------------------------


def review_requested(funder: Funder, invoice: InvoiceRecord, *, livemode: bool, api_base_url: str) -> FinanceNotice:
    """A first invoice is held as a draft: Finance reviews it, then approves it (finalizes it)."""
    amount = _money(invoice.amount_due, invoice.currency)
    link = _dashboard_link(invoice.invoice_id, livemode=livemode)
    approve = f"{api_base_url.rstrip('/')}/invoices/{invoice.invoice_id}/approve"
    lines = "\n".join(
        f"  - {line.description or 'line'}: {_money(line.amount, invoice.currency)}" for line in invoice.lines
    )
    text = "\n".join(
        [
            f"The first invoice of {funder.name} (funder {funder.funder_id}) is a draft waiting for your review.",
            *(["", f"DO NOT APPROVE YET: {invoice.attention}"] if invoice.attention else []),
            "",
            f"Invoice: {invoice.number or invoice.invoice_id} ({invoice.invoice_id})",
            f"Amount due: {amount}",
            f"Period: {_date(invoice.period_start)} to {_date(invoice.period_end)}",
            "Lines:",
            lines or "  (none)",
            "",
            f"Stripe Dashboard: {link}",
            "To approve: press Finalize on the invoice in the Stripe Dashboard, or call",
            f"POST {approve}",
            "Once finalized, Stripe collects it (charges it, or emails it with reminders).",
        ]
    )
    return FinanceNotice(
        key=f"invoice-review#{invoice.invoice_id}",
        event_type="invoice.review_requested",
        subject=_subject(f"Invoice to review: {funder.name}", f" ({amount})"),
        text=text,
        data={
            "type": "invoice.review_requested",
            "funder_id": funder.funder_id,
            "funder_name": funder.name,
            "invoice": invoice.api_view(),
            "dashboard_url": link,
            "approve_url": approve,
            "attention": invoice.attention,
        },
    )


def review_reminder(funder: Funder, invoice: InvoiceRecord, *, api_base_url: str, now: datetime) -> FinanceNotice:
    """The review request again, for a draft still waiting: at most one a day per invoice (its key has the day)."""
    notice = review_requested(funder, invoice, livemode=invoice.livemode, api_base_url=api_base_url)
    days = (int(now.timestamp()) - invoice.stripe_created) // 86400
    return replace(
        notice,
        key=f"invoice-review-reminder#{invoice.invoice_id}#{now.date().isoformat()}",
        event_type="invoice.review_reminder",
        subject=_subject(f"Still to review ({days} d): {funder.name}", ""),
        text=f"Reminder: this draft has waited {days} days for review.\n\n{notice.text}",
    )


def review_missed(funder: Funder, invoice: InvoiceRecord, *, livemode: bool) -> FinanceNotice:
    """Stripe finalized a first invoice nobody reviewed: it is collecting it."""
    key = f"invoice-review-missed#{invoice.invoice_id}"
    text = (
        f"The first invoice {_invoice_of(funder, invoice)}, was finalized by Stripe before anyone reviewed it "
        f"(status: {invoice.status}). Stripe is collecting it. Check it now; if it is wrong, void it or "
        "issue a credit note in the Stripe Dashboard."
    )
    head = "Finalized WITHOUT review"
    return _invoice_notice("invoice.review_missed", key, head, funder, invoice, text=text, livemode=livemode)


def subscription_canceled(
    funder: Funder, subscription_id: str, unpaid: list[StripeInvoice], *, livemode: bool
) -> FinanceNotice:
    """After a cancellation Stripe stops collecting the subscription's finalized invoices (`unpaid`): Finance must."""
    first = funder.subscription.first_invoice if funder.subscription is not None else None
    lines = [
        f"  - {invoice.number or invoice.invoice_id}: "
        f"{_money(invoice.amount_remaining or invoice.amount_due, invoice.currency)} still due "
        f"({_dashboard_link(invoice.invoice_id, livemode=livemode)})"
        for invoice in unpaid
    ]
    text = [f"Subscription {subscription_id} of {funder.name} (funder {funder.funder_id}) has been canceled."]
    voided_first = first.id if first is not None and first.review_status in ("pending", "canceled") else None
    if voided_first is not None:
        text.append(f"Its first invoice {voided_first} was never approved: it is voided, nothing of it is owed.")
    if lines:
        text += ["Stripe no longer collects these finalized invoices; collect them yourself:", *lines]
    else:
        text.append("No finalized invoice of it is left unpaid.")
    return FinanceNotice(
        key=f"subscription-canceled#{subscription_id}",
        event_type="subscription.canceled",
        subject=_subject(f"Subscription canceled: {funder.name}", f" ({len(unpaid)} unpaid)"),
        text="\n".join(text),
        data={
            "type": "subscription.canceled",
            "funder_id": funder.funder_id,
            "subscription_id": subscription_id,
            "unreviewed_first_invoice_voided": voided_first,
            "unpaid_invoices": [
                {"id": i.invoice_id, "number": i.number, "amount_remaining": i.amount_remaining} for i in unpaid
            ],
        },
    )


def payment_failed(funder: Funder, invoice: InvoiceRecord, event_id: str, *, livemode: bool) -> FinanceNotice:
    """Stripe could not collect an invoice: one notice per failed attempt (its event)."""
    key = f"invoice-payment-failed#{invoice.invoice_id}#{event_id}"
    text = f"Stripe could not collect invoice {_invoice_of(funder, invoice)}."
    head = "Payment failed"
    return _invoice_notice("invoice.payment_failed", key, head, funder, invoice, text=text, livemode=livemode)


def _invoice_notice(
    event_type: str, key: str, head: str, funder: Funder, invoice: InvoiceRecord, *, text: str, livemode: bool
) -> FinanceNotice:
    """A notice about one invoice: the funder's name and the amount due in the subject, its Dashboard link last."""
    return FinanceNotice(
        key=key,
        event_type=event_type,
        subject=_subject(f"{head}: {funder.name}", f" ({_money(invoice.amount_due, invoice.currency)})"),
        text=f"{text}\nStripe Dashboard: {_dashboard_link(invoice.invoice_id, livemode=livemode)}",
        data={"type": event_type, "funder_id": funder.funder_id, "invoice": invoice.api_view()},
    )


def _invoice_of(funder: Funder, invoice: InvoiceRecord) -> str:
    """How a notice names an invoice: its number, whose it is, and the amount due."""
    amount = _money(invoice.amount_due, invoice.currency)
    return f"{invoice.number or invoice.invoice_id} of {funder.name} (funder {funder.funder_id}), {amount}"


# --- usage (domain.reporting, domain.reconciliation) -------------------------------------------------------


def usage_unbillable(funder: Funder, kind: UsageKind, reason: str, members: list[UsageRecord]) -> FinanceNotice:
    """Usage records that will not be billed, and why: one notice per set of records."""
    usage_ids = sorted(record.usage_id for record in members)
    quantity = sum(record.quantity for record in members)
    digest = hashlib.sha256("\x1f".join(usage_ids).encode()).hexdigest()[:32]
    shown = ", ".join(usage_ids[:20]) + (f" and {len(usage_ids) - 20} more" if len(usage_ids) > 20 else "")
    return FinanceNotice(
        key=f"usage-unbillable#{funder.funder_id}#{kind}#{digest}",
        event_type="usage.unbillable",
        subject=f"Usage not billable: {funder.name[:60]} ({kind})",
        text=(
            f"{len(usage_ids)} {kind} usage record(s) of {funder.name} (funder {funder.funder_id}), {quantity} in "
            f"all, will not be billed: {reason}.\nThey stay in the ledger as unbillable "
            f"(GET /funders/{funder.funder_id}/usage).\nRecords: {shown}"
        ),
        data={
            "type": "usage.unbillable",
            "funder_id": funder.funder_id,
            "kind": kind,
            "reason": reason,
            "records": len(usage_ids),
            "quantity": quantity,
            "usage_ids": usage_ids[:100],
        },
    )


def usage_discrepancy(
    funder: Funder, kind: str, start: int, end: int, *, ledger: int, in_flight: int, stripe: int
) -> FinanceNotice:
    """Stripe's meter summary over [start, end) is not between what our ledger surely delivered (`ledger`) and
    that plus what may still be on its way (`in_flight`)."""
    funder_id = funder.funder_id
    found = {"kind": kind, "ledger": ledger, "in_flight": in_flight, "stripe": stripe, "from": start, "to": end}
    pending = f" (plus {in_flight} not confirmed yet)" if in_flight else ""
    return FinanceNotice(
        key=f"usage-discrepancy#{funder_id}#{kind}#{start}#{ledger}#{stripe}",
        event_type="usage.discrepancy",
        subject=f"Usage mismatch: {funder.name[:60]} ({kind})",
        text=(
            f"For {funder.name} (funder {funder_id}), {kind} usage reported from {moment_text(start)} to "
            f"{moment_text(end)} is {ledger}{pending} in our ledger but {stripe} in Stripe's meter summaries."
        ),
        data={"type": "usage.discrepancy", "funder_id": funder_id, **found},
    )


def usage_unattributed(found: UnattributedWindow) -> FinanceNotice:
    """Batches the summaries cannot tell apart: their records stay pending (visible) until Finance looks."""
    window = found.window
    where = f"customer {window.customer_id} on {window.event_name}"
    return FinanceNotice(
        key=f"usage-unattributed#{window.customer_id}#{window.event_name}#{window.start}#{found.stripe_found}",
        event_type="usage.unattributed",
        subject=f"Usage to check: {window.event_name} for {window.customer_id}",
        text=(
            f"Stripe's meter summary for {where} from {moment_text(window.start)} to {moment_text(window.end)} "
            f"counts {found.stripe_found}, which no single set of our {len(found.batch_ids)} unconfirmed meter "
            f"events there adds up to. Their usage stays pending until checked: batches "
            f"{', '.join(found.batch_ids)}."
        ),
        data={"type": "usage.unattributed", **asdict(found)},
    )


# --- how messages write things -----------------------------------------------------------------------------


def moment_text(epoch: int) -> str:
    """A moment as messages (and the reasons they carry) show it: UTC, ISO 8601 (models.usage.utc_text)."""
    return utc_text(datetime.fromtimestamp(epoch, UTC))


def _money(minor_units: int, currency: str) -> str:
    return f"{minor_units / 100:,.2f} {currency.upper()}"


def _date(epoch: int | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat() if epoch else "?"


def _dashboard_link(invoice_id: str, *, livemode: bool) -> str:
    return f"https://dashboard.stripe.com/{'' if livemode else 'test/'}invoices/{invoice_id}"


def _subject(head: str, tail: str, limit: int = 99) -> str:
    """SNS email subjects must stay under 100 characters: shorten the head (the funder's name), keep the tail."""
    room = limit - len(tail)
    return (head if len(head) <= room else head[: room - 1] + "…") + tail
