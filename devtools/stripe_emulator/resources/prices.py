"""Prices (https://docs.stripe.com/api/prices).

- A price belongs to ``product`` or to a product created from ``product_data`` (exactly one of them).
- ``unit_amount`` / ``unit_amount_decimal`` are fixed at creation: update does not accept them.
- ``lookup_key`` is unique in the account, inactive prices included. Taking a key in use needs
  ``transfer_lookup_key=true``, which removes it from the price holding it
  (https://docs.stripe.com/products-prices/manage-prices#lookup-keys).
- ``tax_behavior`` may go from ``unspecified`` to ``inclusive``/``exclusive`` once, never back or across.
- Since API 2025-03-31.basil a metered price needs ``recurring[meter]``, an active billing meter
  (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-legacy-usage-based-billing).
- The default price of a product cannot be archived.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..errors import ParamError, exclusive_parameters, invalid_request
from ..lists import list_params, paginate
from ..params import (
    EXPAND,
    Bool,
    Currency,
    DecimalStr,
    Enum,
    Int,
    ListOf,
    Metadata,
    Obj,
    RangeFilter,
    Str,
    Unsupported,
    apply_metadata,
    in_range,
)
from ..routing import Call, RouteTable
from ..store import JSON
from . import products
from .kinds import BILLING_METER, PRICE, PRODUCT

routes = RouteTable()

TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")
INTERVALS = ("day", "month", "week", "year")
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
MAX_LOOKUP_KEYS = 10
MAX_UNIT_AMOUNT = 99_999_999

PRODUCT_DATA = Obj(
    {
        "active": Bool(),
        "id": Str(),
        "metadata": Metadata(),
        "name": Str(required=True, max_length=250),
        "statement_descriptor": Str(max_length=22),
        "tax_code": Str(),
        "tax_details": Unsupported(),
        "unit_label": Str(max_length=12),
    }
)
RECURRING = Obj(
    {
        "interval": Enum(*INTERVALS, required=True),
        "interval_count": Int(min=1),
        "meter": Str(),
        "trial_period_days": Int(min=0),
        "usage_type": Enum("licensed", "metered"),
    }
)
CREATE = Obj(
    {
        "active": Bool(),
        "billing_scheme": Enum("per_unit", "tiered"),
        "currency": Currency(required=True),
        "currency_options": Unsupported(),
        "custom_unit_amount": Unsupported(),
        "expand": EXPAND,
        "lookup_key": Str(max_length=200),
        "metadata": Metadata(),
        "nickname": Str(),
        "product": Str(),
        "product_data": PRODUCT_DATA,
        "recurring": RECURRING,
        "tax_behavior": Enum(*TAX_BEHAVIORS),
        "tiers": Unsupported(),
        "tiers_mode": Unsupported(),
        "transfer_lookup_key": Bool(),
        "transform_quantity": Unsupported(),
        "unit_amount": Int(min=0, max=MAX_UNIT_AMOUNT),
        "unit_amount_decimal": DecimalStr(),
    }
)
UPDATE = Obj(
    {
        "active": Bool(),
        "currency_options": Unsupported(),
        "expand": EXPAND,
        "lookup_key": Str(max_length=200),
        "metadata": Metadata(),
        "nickname": Str(),
        "tax_behavior": Enum(*TAX_BEHAVIORS),
        "transfer_lookup_key": Bool(),
    }
)
RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(
    active=Bool(),
    created=RangeFilter(),
    currency=Currency(),
    lookup_keys=ListOf(Str(), max_items=MAX_LOOKUP_KEYS),
    product=Str(),
    recurring=Obj({"interval": Enum(*INTERVALS), "meter": Str(), "usage_type": Enum("licensed", "metered")}),
    type=Enum("one_time", "recurring"),
)


def _lookup_key_holder(call: Call, lookup_key: str | None, owner: str | None) -> JSON | None:
    """The other price holding ``lookup_key``, if it may be transferred; refuse when it may not."""
    if lookup_key is None:
        return None
    holder = next(
        (price for price in call.store.all(PRICE) if price["lookup_key"] == lookup_key and price["id"] != owner),
        None,
    )
    if holder is not None and not call.params.get("transfer_lookup_key"):
        raise invalid_request(f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
    return holder


def _release_lookup_key(call: Call, holder: JSON | None) -> None:
    if holder is not None:
        stored = call.store.require(PRICE, holder["id"])
        stored["lookup_key"] = None
        call.store.save(PRICE, stored)


def _amounts(params: dict[str, Any]) -> tuple[int | None, str]:
    if "unit_amount" in params and "unit_amount_decimal" in params:
        raise exclusive_parameters("unit_amount", "unit_amount_decimal")
    if "unit_amount" in params:
        return params["unit_amount"], str(params["unit_amount"])
    if "unit_amount_decimal" in params:
        decimal = params["unit_amount_decimal"]
        whole = Decimal(decimal)
        return (int(whole) if whole == whole.to_integral_value() else None), decimal
    raise ParamError("Prices require an `unit_amount` or `unit_amount_decimal` parameter to be set.")


def _recurring(call: Call, recurring: dict[str, Any] | None) -> JSON | None:
    if recurring is None:
        return None
    interval = recurring["interval"]
    interval_count = recurring.get("interval_count", 1)
    if interval_count > MAX_INTERVAL_COUNT[interval]:
        raise ParamError(
            "The maximum billing interval is three years (3 years, 36 months, or 156 weeks).",
            param="recurring[interval_count]",
        )
    usage_type = recurring.get("usage_type", "licensed")
    meter_id = recurring.get("meter")
    if usage_type == "metered" and meter_id is None:
        raise ParamError(
            "Starting with Stripe version `2025-03-31.basil`, metered prices must be backed by meters.",
            param="recurring[meter]",
        )
    if meter_id is not None:
        if usage_type != "metered":
            raise ParamError(
                "A meter can only be set on a price with `recurring[usage_type]=metered`.",
                param="recurring[meter]",
            )
        meter = call.store.require(BILLING_METER, meter_id, param="recurring[meter]", status=400)
        if meter["status"] != "active":
            raise invalid_request(
                f"The meter `{meter_id}` is deactivated: a price cannot be attached to it.",
                param="recurring[meter]",
            )
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": meter_id,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": usage_type,
    }


def _product_id(call: Call) -> str:
    params = call.params
    if "product" in params and "product_data" in params:
        raise exclusive_parameters("product", "product_data")
    if "product" in params:
        call.store.require(PRODUCT, params["product"], param="product", status=400)
        return str(params["product"])
    if "product_data" in params:
        return products.create_inline(call, params["product_data"])
    raise ParamError("You must specify either `product` or `product_data` when creating a price.")


@routes.post("/v1/prices", params=CREATE, returns=PRICE)
def create(call: Call) -> JSON:
    params = call.params
    if params.get("billing_scheme") == "tiered":
        raise ParamError(
            "The Stripe emulator does not model tiered prices yet.",
            param="billing_scheme",
            code="emulator_unsupported_parameter",
        )
    unit_amount, unit_amount_decimal = _amounts(params)
    recurring = _recurring(call, params.get("recurring"))
    lookup_key = params.get("lookup_key")
    holder = _lookup_key_holder(call, lookup_key, owner=None)
    product_id = _product_id(call)
    _release_lookup_key(call, holder)
    price: JSON = {
        "id": call.store.new_id(PRICE),
        "object": "price",
        "active": params.get("active", True),
        "billing_scheme": "per_unit",
        "created": call.now,
        "currency": params["currency"],
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": apply_metadata({}, params.get("metadata")),
        "nickname": params.get("nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": params.get("tax_behavior", "unspecified"),
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if recurring is None else "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount_decimal,
    }
    return call.store.insert(PRICE, price)


@routes.get("/v1/prices/{price}", params=RETRIEVE, returns=PRICE)
def retrieve(call: Call) -> JSON:
    return call.store.require(PRICE, call.path["price"])


@routes.post("/v1/prices/{price}", params=UPDATE, returns=PRICE)
def update(call: Call) -> JSON:
    params = call.params
    price = call.store.require(PRICE, call.path["price"])
    if "tax_behavior" in params and params["tax_behavior"] != price["tax_behavior"]:
        if price["tax_behavior"] != "unspecified":
            raise invalid_request(
                "You cannot update `tax_behavior` field once it has been specified.", param="tax_behavior"
            )
        price["tax_behavior"] = params["tax_behavior"]
    if params.get("active") is False and price["active"]:
        product = call.store.get(PRODUCT, price["product"])
        if product is not None and product["default_price"] == price["id"]:
            raise invalid_request(
                "This price cannot be archived because it is the default price of its product.",
                param="active",
            )
    if "active" in params:
        price["active"] = params["active"]
    if "lookup_key" in params:
        _release_lookup_key(call, _lookup_key_holder(call, params["lookup_key"], owner=price["id"]))
        price["lookup_key"] = params["lookup_key"]
    if "nickname" in params:
        price["nickname"] = params["nickname"]
    if "metadata" in params:
        price["metadata"] = apply_metadata(price["metadata"], params["metadata"])
    return call.store.save(PRICE, price)


@routes.get("/v1/prices", params=LIST, returns=PRICE, is_list=True)
def list_prices(call: Call) -> JSON:
    params = call.params
    if "product" in params:
        call.store.require(PRODUCT, params["product"], param="product", status=400)
    lookup_keys = set(params["lookup_keys"]) if "lookup_keys" in params else None
    recurring_filter: dict[str, Any] = params.get("recurring", {})

    def matches(price: JSON) -> bool:
        if lookup_keys is not None and price["lookup_key"] not in lookup_keys:
            return False
        if any(price[name] != params[name] for name in ("active", "currency", "product", "type") if name in params):
            return False
        if recurring_filter:
            recurring = price["recurring"]
            if recurring is None or any(recurring[key] != value for key, value in recurring_filter.items()):
                return False
        return in_range(price["created"], params.get("created"))

    return paginate(call, PRICE, call.store.all(PRICE, matches))


def require_price_param(call: Call, price_id: str, param: str) -> JSON:
    """A price named by a parameter (400 ``resource_missing`` when unknown)."""
    return call.store.require(PRICE, price_id, param=param, status=400)
