"""Invoices this service has seen (InvoicesTable), and Finance's review of first invoices."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Defined with the shared value types (the invoices API's query takes it without building these models); re-exported.
from incytes_billing.models.common import ReviewStatus as ReviewStatus  # noqa: PLC0414

REVIEW_STATUSES: tuple[ReviewStatus, ...] = ("pending", "approved", "missed", "canceled", "not_required")

# Stripe's invoice lifecycle, in order: a status never moves back to a lower rank.
STATUS_RANK = {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 3}


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    description: str | None = None
    amount: int
    quantity: int | None = None
    # What the line bills (Stripe's line `period`): seats the period ahead, metered usage the period that ended.
    # None on records stored before lines kept it.
    period_start: int | None = None
    period_end: int | None = None


def billed_period(
    period_start: int | None, period_end: int | None, lines: list[InvoiceLine]
) -> tuple[int | None, int | None]:
    """The period an invoice record shows: Stripe's invoice period, unless it is a single moment.

    Stripe's `period_start`/`period_end` bound when invoice items could be added to the invoice; "use the line
    item period to get the service period for each price" (https://docs.stripe.com/api/invoices/object). A renewal's
    is the period that ended (whose usage it bills), but a subscription's first invoice has
    `period_start == period_end`, its creation: its period is then its lines' (the seats' period, which its
    zero-amount metered lines share), i.e. the subscription items' current period.
    """
    if period_start is None or period_start != period_end:
        return period_start, period_end
    starts = [line.period_start for line in lines if line.period_start is not None]
    ends = [line.period_end for line in lines if line.period_end is not None]
    if not starts or not ends or max(ends) <= min(starts):
        return period_start, period_end
    return min(starts), max(ends)


class InvoiceRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invoice_id: str
    funder_id: str
    customer_id: str
    subscription_id: str | None = None  # None: a one-off invoice (stored without the attribute)
    status: str
    amount_due: int
    currency: str
    billing_reason: str | None = None
    number: str | None = None
    hosted_invoice_url: str | None = None
    # Stripe's invoice period, or for a first invoice the period its lines bill (billed_period).
    period_start: int | None = None
    period_end: int | None = None
    lines: list[InvoiceLine] = Field(default_factory=list)
    livemode: bool = False
    first_invoice: bool = False
    review_status: ReviewStatus = "not_required"
    # Why Finance must not approve it as it is (e.g. its subscription is not the funder's linked one).
    attention: str | None = None
    # Who approved it through the API (the caller's IAM ARN) and when (UTC, RFC 3339); None when nobody did
    # here (approved in the Dashboard, or not approved).
    approved_by: str | None = None
    approved_at: str | None = None
    stripe_created: int
    # `created` of the Stripe event whose state this record holds: older events never overwrite it.
    state_event_created: int = 0
    version: int = 1

    def api_view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"version", "state_event_created"})

    def moves_forward_to(self, status: str) -> bool:
        return STATUS_RANK.get(status, -1) >= STATUS_RANK.get(self.status, -1)
