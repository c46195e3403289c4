"""Funders: the inCytes clients billed through Stripe, and the HTTP shapes around them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from incytes_billing.models.common import Currency, Seats
from incytes_billing.models.subscription import FunderSubscription

STRIPE_CUSTOMER_ID_PATTERN = r"^cus_[A-Za-z0-9]{1,250}$"

MAX_FUNDER_NAME_LENGTH = 200  # docs/contract.md, Identifiers
FunderName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_FUNDER_NAME_LENGTH)]
StripeCustomerId = Annotated[str, StringConstraints(pattern=STRIPE_CUSTOMER_ID_PATTERN)]


class FunderUpsert(BaseModel):
    """Body of `PUT /funders/{funder_id}`. Omitted optional fields keep their stored value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: FunderName
    stripe_customer_id: StripeCustomerId | None = None
    currency: Currency | None = None
    seats: Seats | None = None


class Funder(BaseModel):
    """A funder as stored and as answered by the API."""

    model_config = ConfigDict(extra="ignore")

    funder_id: str
    name: str
    stripe_customer_id: str | None
    stripe_customer_deleted: bool = False  # Stripe said so (customer.deleted): nothing more can be billed
    currency: Currency
    seats: int
    subscription: FunderSubscription | None = None
    created_at: datetime
    updated_at: datetime
    # Bookkeeping, not part of the API: optimistic locking and the subscription-creation claim.
    version: int = 1
    subscription_attempts: int = 0
    subscription_claim_expires_at: int | None = None

    @property
    def is_subscribed(self) -> bool:
        return self.subscription is not None and self.subscription.is_live

    def api_view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=INTERNAL_FIELDS)


INTERNAL_FIELDS = {"version", "subscription_attempts", "subscription_claim_expires_at"}
