"""Funders: the inCytes clients billed through Stripe, and the HTTP shapes around them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Currency = Literal["usd", "eur"]
DEFAULT_CURRENCY: Currency = "usd"
SUPPORTED_CURRENCIES: dict[str, Currency] = {"usd": "usd", "eur": "eur"}

FUNDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
STRIPE_CUSTOMER_ID_PATTERN = r"^cus_[A-Za-z0-9]{1,250}$"
MAX_SEATS = 100_000

FunderName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
StripeCustomerId = Annotated[str, StringConstraints(pattern=STRIPE_CUSTOMER_ID_PATTERN)]
Seats = Annotated[int, Field(ge=1, le=MAX_SEATS)]

# Subscription states in which the funder is still bound to its customer and currency.
LIVE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "incomplete", "paused"})


class FunderUpsert(BaseModel):
    """Body of `PUT /funders/{funder_id}`. Omitted optional fields keep their stored value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: FunderName
    stripe_customer_id: StripeCustomerId | None = None
    currency: Currency | None = None
    seats: Seats | None = None


class SubscriptionSummary(BaseModel):
    """What the funder record knows of its Stripe subscription (filled in by the subscription issue)."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    status: str

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_SUBSCRIPTION_STATUSES


class Funder(BaseModel):
    """A funder as stored and as answered by the API."""

    model_config = ConfigDict(extra="ignore")

    funder_id: str
    name: str
    stripe_customer_id: str | None
    currency: Currency
    seats: int
    subscription: SubscriptionSummary | None = None
    created_at: datetime
    updated_at: datetime
    version: int = Field(default=1, exclude=True)

    @property
    def is_subscribed(self) -> bool:
        return self.subscription is not None and self.subscription.is_live
