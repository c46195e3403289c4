"""Finance's review of first invoices: list the drafts waiting, approve one (finalize so Stripe collects it)."""

from __future__ import annotations

from incytes_billing.domain.funder_updates import MAX_WRITE_ATTEMPTS
from incytes_billing.errors import ConcurrentUpdate, InvoiceNotDraft, InvoiceNotFound
from incytes_billing.models.invoice import InvoiceRecord
from incytes_billing.models.stripe import StripeInvoice
from incytes_billing.ports import FunderRepository, InvoiceGateway, InvoiceRepository

APPROVED_STATUSES = ("open", "paid")
CLOSED_STATUSES = ("void", "uncollectible")


class InvoiceReviewService:
    def __init__(self, invoices: InvoiceRepository, funders: FunderRepository, stripe: InvoiceGateway) -> None:
        self._invoices = invoices
        self._funders = funders
        self._stripe = stripe

    def pending(self) -> list[InvoiceRecord]:
        return sorted(self._invoices.pending_review(), key=lambda invoice: invoice.stripe_created)

    def approve(self, invoice_id: str) -> StripeInvoice:
        """Finalize a draft with auto_advance (and send it, for send_invoice); approving twice changes nothing.

        Stripe is the truth: the local record may lag its webhooks.
        """
        invoice = self._stripe.get_invoice(invoice_id)
        if (
            invoice is None
            or invoice.customer_id is None
            or self._funders.find_by_customer(invoice.customer_id) is None
        ):
            raise InvoiceNotFound(invoice_id)
        if invoice.status in CLOSED_STATUSES:
            raise InvoiceNotDraft(invoice_id, invoice.status)
        if invoice.status in APPROVED_STATUSES:
            return invoice  # already approved (here or in the Dashboard)
        finalized = self._stripe.finalize_invoice(invoice_id)
        if finalized.collection_method == "send_invoice" and finalized.status == "open":
            finalized = self._stripe.send_invoice(invoice_id)  # email it now, not an hour later
        self._record_approval(finalized)
        return finalized

    def _record_approval(self, invoice: StripeInvoice) -> None:
        """Best effort now; the invoice.finalized webhook records it too, as for a Dashboard finalization."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            record = self._invoices.get(invoice.invoice_id)
            if record is None or not record.moves_forward_to(invoice.status):
                return
            review = "approved" if record.first_invoice else record.review_status
            try:
                self._invoices.save(
                    record.model_copy(
                        update={"status": invoice.status, "review_status": review, "version": record.version + 1}
                    ),
                    expected_version=record.version,
                )
            except ConcurrentUpdate:
                continue
            return
