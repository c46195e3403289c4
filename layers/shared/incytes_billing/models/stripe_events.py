"""The parts of Stripe event payloads (snapshot `data.object`) that processing reads, validated with pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incytes_billing.models.stripe import FUNDER_METADATA


def _id(value: Any) -> Any:
    """Expandable fields arrive as an id or as the object."""
    return value.get("id") if isinstance(value, dict) else value


def _listed(value: Any) -> tuple[list[Any], bool]:
    """A Stripe list object's items, and whether that is all of them (not `has_more`); none, not all, if absent."""
    if not isinstance(value, dict):
        return [], False
    return value.get("data", []), not value.get("has_more", False)


class _Flattened(BaseModel):
    """A Stripe object read as the fields processing uses: `_flat` reshapes the payload's dict before validation."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        return cls._flat(data) if isinstance(data, dict) else data

    @classmethod
    def _flat(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data


class InvoiceLineSnapshot(BaseModel):
    model_config = ConfigDict(extra="ignore")

    description: str | None = None
    amount: int = 0
    quantity: int | None = None
    period_start: int | None = None
    period_end: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        period = data.get("period") or {}
        return {**data, "period_start": period.get("start"), "period_end": period.get("end")}


class InvoiceSnapshot(_Flattened):
    id: str
    customer: str
    status: str
    amount_due: int = 0
    currency: str
    billing_reason: str | None = None
    number: str | None = None
    hosted_invoice_url: str | None = None
    auto_advance: bool = False
    period_start: int | None = None
    period_end: int | None = None
    created: int
    livemode: bool = False
    subscription_id: str | None = None  # None: a one-off invoice (`parent` null or not a subscription's)
    # parent.subscription_details.metadata: the funder this service made (or linked) the subscription for.
    subscription_funder_id: str | None = None
    lines: list[InvoiceLineSnapshot] = Field(default_factory=list)
    all_lines: bool = True  # false when the payload's line list was cut short (has_more): fetch the rest

    @classmethod
    def _flat(cls, data: dict[str, Any]) -> dict[str, Any]:
        flat = dict(data)
        flat["customer"] = _id(data.get("customer"))
        # Nullable in Stripe's API (the SDK types it Optional[bool]): null advances nothing.
        flat["auto_advance"] = bool(data.get("auto_advance"))
        # `invoice.subscription` is gone: the subscription is under parent.subscription_details.
        details = (data.get("parent") or {}).get("subscription_details") or {}
        flat["subscription_id"] = _id(details.get("subscription"))
        flat["subscription_funder_id"] = (details.get("metadata") or {}).get(FUNDER_METADATA)
        flat["lines"], flat["all_lines"] = _listed(data.get("lines"))
        return flat


class SubscriptionItemSnapshot(_Flattened):
    model_config = ConfigDict(frozen=True)

    item_id: str = Field(validation_alias="id")
    price_id: str
    product_id: str
    quantity: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None

    @classmethod
    def _flat(cls, data: dict[str, Any]) -> dict[str, Any]:
        price = data.get("price") or {}
        product = price.get("product") if isinstance(price, dict) else None
        return {**data, "price_id": _id(price), "product_id": _id(product)}


class SubscriptionSnapshot(_Flattened):
    id: str
    livemode: bool = False
    customer: str
    status: str
    cancel_at_period_end: bool = False
    canceled_at: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    items: list[SubscriptionItemSnapshot] = Field(default_factory=list)
    all_items: bool = True  # false when the payload's item list is missing or was cut short (has_more)

    @classmethod
    def _flat(cls, data: dict[str, Any]) -> dict[str, Any]:
        flat = dict(data)
        flat["customer"] = _id(data.get("customer"))
        flat["items"], flat["all_items"] = _listed(data.get("items"))
        return flat


class CustomerSnapshot(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str


class MeterErrorSample(_Flattened):
    error_message: str = ""
    identifier: str | None = None  # the refused meter event's identifier

    @classmethod
    def _flat(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "identifier": (data.get("request") or {}).get("identifier")}


class MeterErrorType(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    error_count: int = 0
    sample_errors: list[MeterErrorSample] = Field(default_factory=list)


class MeterErrorReport(_Flattened):
    """A `v1.billing.meter.error_report_triggered` (or `no_meter_found`) thin event, fetched with its `data`:
    error counts per code, with a few sample errors only (Stripe does not list every refused event)."""

    event_id: str
    error_count: int = 0
    error_types: list[MeterErrorType] = Field(default_factory=list)

    @classmethod
    def _flat(cls, data: dict[str, Any]) -> dict[str, Any]:
        reason = (data.get("data") or {}).get("reason") or {}
        return {"event_id": data.get("id"), **reason}
