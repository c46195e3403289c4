"""What the domain needs to know of Stripe objects, independent of the SDK."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StripeCustomer:
    customer_id: str
    deleted: bool
    # None until Stripe has billed the customer once; afterwards fixed for its active subscriptions.
    currency: str | None
