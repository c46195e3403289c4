"""What the subscription endpoints accept: their parameters, statuses and the checks of items, collection and
billing mode (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import StripeError, invalid_request, missing_parameter
from ...lists import list_params
from ...params import (
    EXPAND,
    Bool,
    Currency,
    Enum,
    Int,
    IntOrKeyword,
    ListOf,
    Metadata,
    Obj,
    Param,
    RangeFilter,
    Str,
    Unsupported,
    apply_metadata,
)
from ...routing import Call
from ...search import METADATA, SearchField, number_field, string_field
from ...store import JSON
from .. import billing
from ..kinds import PRICE

MAX_ITEMS = 20
ENDED = ("canceled", "incomplete_expired")
STATUSES = ("active", "canceled", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")
FEEDBACK = (
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
)
CANCELED_UPDATABLE = frozenset({"cancellation_details", "metadata", "expand"})
LAST_ITEM = (
    "A subscription must have at least one active plan. To cancel a subscription, please use the cancel API "
    "endpoint on /v1/subscriptions."
)

AUTOMATIC_TAX = Obj({"enabled": Bool(required=True), "liability": Unsupported()})
BILLING_MODE = Obj(
    {
        "flexible": Obj({"proration_discounts": Enum("included", "itemized")}),
        "type": Enum("classic", "flexible", required=True),
    }
)
CANCELLATION_DETAILS = Obj(
    {
        "comment": Str(emptyable=True, max_length=5000),
        "feedback": Str(emptyable=True, choices=FEEDBACK),
        "feedback_option": Unsupported(),
    }
)
ITEM = Obj(
    {
        "billing_thresholds": Unsupported(),
        "current_trial": Unsupported(),
        "discounts": Unsupported(),
        "metadata": Metadata(),
        "plan": Unsupported(),
        "price": Str(),
        "price_data": Unsupported(),
        "quantity": Int(min=0),
        "tax_rates": Unsupported(),
    }
)
UPDATE_ITEM = ITEM.extend(clear_usage=Bool(), deleted=Bool(), id=Str())

UNMODELED: dict[str, Param] = {
    name: Unsupported()
    for name in (
        "add_invoice_items",
        "application_fee_percent",
        "billing_schedules",
        "billing_thresholds",
        "default_source",
        "default_tax_rates",
        "discounts",
        "invoice_settings",
        "on_behalf_of",
        "payment_settings",
        "pending_invoice_item_interval",
        "transfer_data",
        "trial_end",
        "trial_from_plan",
        "trial_settings",
    )
}
CREATE = Obj(
    {
        **UNMODELED,
        "automatic_tax": AUTOMATIC_TAX,
        "backdate_start_date": Unsupported(),
        "billing_cycle_anchor": Unsupported(),
        "billing_cycle_anchor_config": Unsupported(),
        "billing_mode": BILLING_MODE,
        "cancel_at": Unsupported(),
        "cancel_at_period_end": Bool(),
        "collection_method": Enum(*COLLECTION_METHODS),
        "currency": Currency(),
        "customer": Str(),
        "customer_account": Unsupported(),
        "days_until_due": Int(min=0),
        "default_payment_method": Str(),
        "description": Str(max_length=500),
        "expand": EXPAND,
        "items": ListOf(ITEM, max_items=MAX_ITEMS),
        "metadata": Metadata(),
        "off_session": Bool(),
        "payment_behavior": Enum(*PAYMENT_BEHAVIORS),
        "proration_behavior": Enum(*PRORATION_BEHAVIORS),
        "trial_period_days": Unsupported(),
    }
)
UPDATE = Obj(
    {
        **UNMODELED,
        "automatic_tax": AUTOMATIC_TAX,
        "billing_cycle_anchor": Unsupported(),
        "cancel_at": IntOrKeyword("max_billed_until", "max_period_end", "min_period_end", emptyable=True),
        "cancel_at_period_end": Bool(),
        "cancellation_details": CANCELLATION_DETAILS,
        "collection_method": Enum(*COLLECTION_METHODS),
        "days_until_due": Int(min=0),
        "default_payment_method": Str(emptyable=True),
        "description": Str(emptyable=True, max_length=500),
        "expand": EXPAND,
        "items": ListOf(UPDATE_ITEM, max_items=MAX_ITEMS),
        "metadata": Metadata(),
        "off_session": Bool(),
        "pause_collection": Unsupported(),
        "payment_behavior": Enum(*PAYMENT_BEHAVIORS),
        "proration_behavior": Enum(*PRORATION_BEHAVIORS),
        "proration_date": Int(),
    }
)
CANCEL = Obj(
    {
        "cancellation_details": CANCELLATION_DETAILS,
        "expand": EXPAND,
        "invoice_now": Bool(),
        "prorate": Bool(),
    }
)
RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(
    automatic_tax=Obj({"enabled": Bool(required=True)}),
    collection_method=Enum(*COLLECTION_METHODS),
    created=RangeFilter(),
    current_period_end=Unsupported(),
    current_period_start=Unsupported(),
    customer=Str(),
    customer_account=Unsupported(),
    plan=Str(),
    price=Str(),
    status=Enum(*STATUSES, "all", "ended"),
    test_clock=Unsupported(),
)
SEARCH_FIELDS: dict[str, SearchField] = {
    "created": number_field("created"),
    "metadata": METADATA,
    "status": string_field("status"),
}


@dataclass
class ItemSpec:
    """A validated item to create: its price, quantity (``None`` for metered) and metadata."""

    price: JSON
    quantity: int | None
    metadata: dict[str, str]


def mixed_currency_error(price: JSON, currency: str, param: str) -> StripeError:
    return invalid_request(
        f"The price specified only supports `{price['currency']}`. This doesn't match the expected currency: "
        f"`{currency}`.",
        param=param,
    )


def nested(path: str, name: str) -> str:
    """``items[0]`` + ``price`` -> ``items[0][price]``; a top-level parameter when ``path`` is empty."""
    return f"{path}[{name}]" if path else name


def metered_quantity_error(path: str) -> StripeError:
    message = "Quantity should not be specified where usage_type is `metered`."
    if path:
        message += f" Remove quantity from `{path}`."
    return invalid_request(message, param=nested(path, "quantity"))


def resolve_price(call: Call, price_id: str, param: str) -> JSON:
    """An active recurring price named by a parameter."""
    price = call.store.require(PRICE, price_id, param=param, status=400)
    if price["type"] != "recurring":
        raise invalid_request(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
            param=param,
        )
    if not price["active"]:
        raise invalid_request("The price specified is inactive. This field only accepts active prices.", param=param)
    return price


def resolve_items(
    call: Call, raw_items: list[dict[str, Any]], prefix: str, currency: str | None
) -> tuple[list[ItemSpec], str]:
    """Validate the ``items`` of a new subscription; returns them and the subscription's currency
    (``currency`` when given, else the first price's)."""
    explicit = currency is not None
    if not raw_items:
        raise missing_parameter(prefix)
    specs: list[ItemSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        path = f"{prefix}[{index}]"
        if "price" not in raw:
            raise missing_parameter(f"{path}[price]")
        price = resolve_price(call, raw["price"], f"{path}[price]")
        if price["id"] in seen:
            raise invalid_request(
                f"Cannot create a Subscription with multiple Subscription Items with the same Price: {price['id']}",
                param="plan",
            )
        seen.add(price["id"])
        if currency is not None and price["currency"] != currency:
            if not explicit:
                raise invalid_request(
                    f"This `price` has `currency={price['currency']}`, but other items use `currency={currency}`. "
                    "All items must have pricing in the same currency. When using multi-currency prices, you can "
                    "specify `currency` at the top level, to be used by all items.",
                    param=f"{path}[price]",
                )
            raise mixed_currency_error(price, currency, f"{path}[price]")
        currency = currency or price["currency"]
        metered = billing.is_metered(price)
        if metered and "quantity" in raw:
            raise metered_quantity_error(path)
        quantity = None if metered else int(raw.get("quantity", 1))
        specs.append(ItemSpec(price, quantity, apply_metadata({}, raw.get("metadata"))))
    assert currency is not None
    return specs, currency


def check_collection(collection_method: str, days_until_due: int | None) -> None:
    if days_until_due is not None and collection_method != "send_invoice":
        raise invalid_request("You can only specify 'days_until_due' if invoice collection method is 'send_invoice'.")
    if collection_method == "send_invoice" and days_until_due is None:
        raise invalid_request("If invoice collection method is 'send_invoice', you must specify 'days_until_due'.")


def check_automatic_tax(value: dict[str, Any] | None, param: str) -> None:
    if (value or {}).get("enabled"):
        raise StripeError(
            400,
            "The Stripe emulator does not model automatic tax yet (`enabled: true`). Extend "
            "devtools/stripe_emulator if the project needs it.",
            param=f"{param}[enabled]",
            code="emulator_unsupported_parameter",
            saved=False,
        )


def billing_mode_of(value: dict[str, Any] | None, now: int) -> JSON:
    mode = (value or {}).get("type", "flexible")
    if mode == "classic":
        return {"flexible": None, "type": "classic", "updated_at": None}
    flexible = (value or {}).get("flexible") or {}
    return {
        "flexible": {"proration_discounts": flexible.get("proration_discounts", "included")},
        "type": "flexible",
        "updated_at": now,
    }
