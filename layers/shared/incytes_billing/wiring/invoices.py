"""InvoicesFunction: Finance's review of first invoices, and the funders' audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.config import InvoicesConfig, config_reader
from incytes_billing.wiring import parts
from incytes_billing.wiring.aws import table
from incytes_billing.wiring.stripe_on_first_use import stripe_on_first_use

if TYPE_CHECKING:
    from incytes_billing.domain.audit import AuditHistory
    from incytes_billing.domain.invoices import InvoiceReviewService


config = config_reader(InvoicesConfig)


def invoice_review_service() -> InvoiceReviewService:
    from incytes_billing.adapters.dynamodb_invoices import DynamoDBInvoiceRepository
    from incytes_billing.domain.invoices import InvoiceReviewService

    settings = config()
    return InvoiceReviewService(
        DynamoDBInvoiceRepository(table(settings.invoices_table)),
        parts.funder_repository(settings.funders_table),
        stripe_on_first_use(settings.stripe),  # only an approval calls Stripe
        audit=parts.audit_trail(settings.audit_table),
    )


def audit_history() -> AuditHistory:
    from incytes_billing.domain.audit import AuditHistory

    settings = config()
    return AuditHistory(parts.audit_log(settings.audit_table), parts.funder_repository(settings.funders_table))
