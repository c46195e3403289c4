"""What the domain needs to know of Stripe objects, independent of the SDK."""

from __future__ import annotations

from dataclasses import dataclass

# The metadata key every subscription this service makes or links carries (the Stripe adapter writes it).
FUNDER_METADATA = "incytes_funder_id"
# Stripe's billing_reason of a subscription's first invoice.
FIRST_INVOICE_REASON = "subscription_create"


@dataclass(frozen=True, slots=True)
class StripeCustomer:
    customer_id: str
    deleted: bool
    # None until Stripe has billed the customer once; afterwards fixed for its active subscriptions.
    currency: str | None


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    """A price found by its lookup key."""

    lookup_key: str
    price_id: str
    product_id: str
    currency: str


@dataclass(frozen=True, slots=True)
class StripeSubscriptionItem:
    item_id: str
    price_id: str
    product_id: str
    quantity: int | None
    current_period_start: int | None
    current_period_end: int | None


@dataclass(frozen=True, slots=True)
class StripeSubscription:
    subscription_id: str
    customer_id: str
    status: str
    currency: str
    collection_method: str
    items: tuple[StripeSubscriptionItem, ...]
    latest_invoice_id: str | None
    schedule_id: str | None
    funder_id: str | None  # from metadata: which funder this service made or linked it for
    cancel_at_period_end: bool
    canceled_at: int | None
    created: int


@dataclass(frozen=True, slots=True)
class StripeInvoice:
    invoice_id: str
    status: str
    amount_due: int
    currency: str
    auto_advance: bool
    billing_reason: str | None
    subscription_id: str | None
    collection_method: str | None = None
    customer_id: str | None = None
    number: str | None = None
    amount_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """What the one-click path asks Stripe for (through a subscription schedule)."""

    funder_id: str
    customer_id: str
    currency: str
    seat_price_id: str
    seats: int
    metered_price_ids: tuple[str, ...]
    collection_method: str
    days_until_due: int | None
    proration_behavior: str
    automatic_tax: bool
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PeriodInvoice:
    """The invoice that bills a subscription's ended period: the renewal made when it ended (or a cancellation's
    final invoice). Stripe still counts usage of that period while it is a draft."""

    invoice_id: str
    status: str
    billing_reason: str | None
    period_start: int
    period_end: int
    automatically_finalizes_at: int | None  # None unless a draft Stripe will finalize by itself
