"""Subscriptions as this service records them on the funder, and the requests that change them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from incytes_billing.models.common import Currency, ReviewStatus, Seats

ItemKind = Literal["seat", "case", "sms"]
SubscriptionOrigin = Literal["automatic", "linked"]
CancelWhen = Literal["period_end", "now"]

STRIPE_SUBSCRIPTION_ID_PATTERN = r"^sub_[A-Za-z0-9]{1,250}$"
# Subscription states in which the funder is still bound to its customer and currency.
LIVE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "incomplete", "paused"})


class SubscriptionItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: ItemKind | None  # None: an item of a product this service does not bill (a manual extra)
    item_id: str
    price_id: str
    product_id: str
    quantity: int | None


class StripeItem(Protocol):
    """A subscription item as Stripe reports it (API answer or event payload)."""

    @property
    def item_id(self) -> str: ...
    @property
    def price_id(self) -> str: ...
    @property
    def product_id(self) -> str: ...
    @property
    def quantity(self) -> int | None: ...
    @property
    def current_period_start(self) -> int | None: ...
    @property
    def current_period_end(self) -> int | None: ...


def recorded_items(items: Sequence[StripeItem], kind_of_product: Mapping[str, ItemKind]) -> list[SubscriptionItem]:
    """Stripe's items as recorded on the funder, classed seat/case/SMS by product, whatever their price."""
    return [
        SubscriptionItem(
            kind=kind_of_product.get(item.product_id),
            item_id=item.item_id,
            price_id=item.price_id,
            product_id=item.product_id,
            quantity=item.quantity,
        )
        for item in items
    ]


def billing_period(
    items: Sequence[StripeItem], kind_of_product: Mapping[str, ItemKind]
) -> tuple[int | None, int | None]:
    """Periods live on items in this API version; the seat item's is the subscription's billing period."""
    seats = [item for item in items if kind_of_product.get(item.product_id) == "seat"]
    period_item = next(iter(seats or items), None)
    return (period_item.current_period_start, period_item.current_period_end) if period_item else (None, None)


class FirstInvoice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    status: str
    amount_due: int
    currency: str
    review_status: ReviewStatus


class FunderSubscription(BaseModel):
    """The funder's Stripe subscription, as last written by this service or its webhooks."""

    model_config = ConfigDict(extra="ignore")

    subscription_id: str
    status: str
    origin: SubscriptionOrigin = "automatic"
    schedule_id: str | None = None  # the (released) schedule that created it, for the one-click path
    currency: str | None = None
    collection_method: str | None = None
    items: list[SubscriptionItem] = Field(default_factory=list)
    current_period_start: int | None = None
    current_period_end: int | None = None
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    first_invoice: FirstInvoice | None = None
    stripe_created: int | None = None
    # `created` of the last Stripe event applied to this record: older events never overwrite it.
    state_event_created: int = 0

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_SUBSCRIPTION_STATUSES

    def item(self, kind: ItemKind) -> SubscriptionItem | None:
        return next((item for item in self.items if item.kind == kind), None)

    def creation_view(self) -> dict[str, Any]:
        """The 201 body of `POST /funders/{funder_id}/subscription` (README "HTTP API", docs/contract.md)."""
        return self.model_dump(mode="json", include={"subscription_id", "status", "currency", "items", "first_invoice"})


class CreateSubscriptionRequest(BaseModel):
    """Body of `POST /funders/{funder_id}/subscription` (all optional)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seats: Seats | None = None
    currency: Currency | None = None


class LinkSubscriptionRequest(BaseModel):
    """Body of `PUT /funders/{funder_id}/subscription`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    subscription_id: Annotated[str, StringConstraints(pattern=STRIPE_SUBSCRIPTION_ID_PATTERN)]


class ChangeSeatsRequest(BaseModel):
    """Body of `PATCH /funders/{funder_id}/subscription`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seats: Seats
