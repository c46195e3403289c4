"""Finance's review of first invoices: list them by review state, approve one (finalize so Stripe collects it)."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from incytes_billing.domain.audit import UNRECORDED, AuditTrail
from incytes_billing.domain.funder_updates import MAX_WRITE_ATTEMPTS
from incytes_billing.errors import (
    ConcurrentUpdate,
    InvoiceCustomerDeleted,
    InvoiceNotDraft,
    InvoiceNotFound,
    InvoiceSubscriptionCanceled,
    InvoiceSubscriptionNotLinked,
)
from incytes_billing.models.funder import Funder
from incytes_billing.models.invoice import InvoiceRecord, ReviewStatus
from incytes_billing.models.stripe import StripeInvoice
from incytes_billing.models.subscription import LIVE_SUBSCRIPTION_STATUSES
from incytes_billing.ports import FunderRepository, InvoiceGateway, InvoiceRepository

APPROVED_STATUSES = ("open", "paid")
CLOSED_STATUSES = ("void", "uncollectible")


@dataclass(eq=False)
class InvoiceReviewService:
    invoices: InvoiceRepository
    funders: FunderRepository
    stripe: InvoiceGateway
    _: KW_ONLY
    audit: AuditTrail = UNRECORDED

    def listed(self, review_status: ReviewStatus) -> list[InvoiceRecord]:
        """The invoices in one review state, oldest first."""
        return sorted(self.invoices.with_review_status(review_status), key=lambda invoice: invoice.stripe_created)

    def invoice(self, invoice_id: str) -> InvoiceRecord:
        """One invoice as recorded from Stripe's events (every line, each with its period, and its review state)."""
        record = self.invoices.get(invoice_id)
        if record is None:
            raise InvoiceNotFound(invoice_id)
        return record

    def approve(self, invoice_id: str) -> StripeInvoice:
        """Finalize a draft with auto_advance (and send it, for send_invoice); approving twice changes nothing.

        Stripe is the truth: the local record may lag its webhooks. An invoice finalized while held (its
        auto_advance false) is released, else Stripe would never charge, send, retry or remind it.
        """
        invoice = self.stripe.get_invoice(invoice_id)
        funder = (
            self.funders.find_by_customer(invoice.customer_id)
            if invoice is not None and invoice.customer_id is not None
            else None
        )
        if invoice is None or funder is None:
            raise InvoiceNotFound(invoice_id)
        if invoice.status in CLOSED_STATUSES:
            raise InvoiceNotDraft(invoice_id, invoice.status)
        if invoice.status in APPROVED_STATUSES and (invoice.auto_advance or invoice.status == "paid"):
            self._record_approval(invoice)  # approved in the Dashboard, or by an earlier call
            return invoice
        self._check_approvable(invoice, funder)
        if invoice.status == "draft":
            approved = self.stripe.finalize_invoice(invoice_id)
            if approved.collection_method == "send_invoice" and approved.status == "open":
                approved = self.stripe.send_invoice(invoice_id)  # email it now, not an hour later
        else:
            approved = self.stripe.release_hold(invoice_id)  # finalized while held: let Stripe collect it
        # This request approved it (an approval already made returned above): its caller is the approver.
        entry = self.audit.record(
            funder.funder_id,
            "invoice.approved",
            invoice_id=invoice_id,
            status=approved.status,
            subscription_id=approved.subscription_id,
            amount_due=approved.amount_due,
            currency=approved.currency,
        )
        self._record_approval(approved, approver=entry.caller.user_arn, approved_at=entry.recorded_at)
        return approved

    def _check_approvable(self, invoice: StripeInvoice, funder: Funder) -> None:
        if invoice.customer_id is not None:
            customer = self.stripe.get_customer(invoice.customer_id)
            if funder.stripe_customer_deleted or customer is None or customer.deleted:
                raise InvoiceCustomerDeleted(invoice.invoice_id, invoice.customer_id)
        if invoice.subscription_id is None:
            return  # a one-off invoice: nothing to be linked
        linked = funder.subscription
        if linked is None or linked.subscription_id != invoice.subscription_id:
            raise InvoiceSubscriptionNotLinked(invoice.invoice_id, invoice.subscription_id, funder.funder_id)
        subscription = self.stripe.get_subscription(invoice.subscription_id)
        if subscription is None or subscription.status not in LIVE_SUBSCRIPTION_STATUSES:
            raise InvoiceSubscriptionCanceled(invoice.invoice_id, invoice.subscription_id)

    def _record_approval(
        self, invoice: StripeInvoice, *, approver: str | None = None, approved_at: str | None = None
    ) -> None:
        """Best effort now; the invoice.finalized webhook records it too, as for a Dashboard finalization.

        With `approved_at`, this request made the approval: who and when are stored (once: the first approver).
        """
        for _ in range(MAX_WRITE_ATTEMPTS):
            record = self.invoices.get(invoice.invoice_id)
            if record is None or not record.moves_forward_to(invoice.status):
                return
            review = "approved" if record.first_invoice else record.review_status
            approval: dict[str, str | None] = {}
            if approved_at is not None and record.approved_at is None:
                approval = {"approved_by": approver, "approved_at": approved_at}
            if (record.status, record.review_status) == (invoice.status, review) and not approval:
                return
            try:
                self.invoices.save(
                    record.model_copy(
                        update={
                            "status": invoice.status,
                            "review_status": review,
                            "attention": None,
                            "version": record.version + 1,
                            **approval,
                        }
                    ),
                    expected_version=record.version,
                )
            except ConcurrentUpdate:
                continue
            return
