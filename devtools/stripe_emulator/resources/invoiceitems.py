"""Invoice items (https://docs.stripe.com/api/invoiceitems).

- An item takes ``amount`` + ``currency``, or a one-time price through ``pricing[price]`` (API
  2025-03-31.basil moved ``price`` there). It bills the customer in its currency (see customers: the
  first one sets ``customer.currency``; another currency while something bills the customer is refused).
- An item is *pending* (``invoice: null``) until an invoice takes it. Subscription changes create
  proration items (``proration: true``, ``parent.subscription_details``) that wait, pending, for the
  subscription's next invoice (https://docs.stripe.com/billing/subscriptions/prorations).
- Once on a finalized invoice an item can no longer be updated or deleted.
- Events: ``invoiceitem.created``, ``invoiceitem.deleted``; an update records none (Stripe's event types
  have no ``invoiceitem.updated``, https://docs.stripe.com/api/events/types).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..errors import exclusive_parameters, invalid_request, missing_parameter
from ..lists import list_params, paginate
from ..params import (
    EXPAND,
    UNSET,
    Bool,
    Currency,
    DecimalStr,
    Int,
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
from . import events
from .customers import check_currency, claim_currency, require_billable_customer
from .kinds import INVOICE, INVOICE_ITEM
from .prices import require_price_param

routes = RouteTable()

PERIOD = Obj({"end": Int(required=True), "start": Int(required=True)})
WRITABLE = {
    "amount": Int(),
    "description": Str(),
    "discountable": Bool(),
    "discounts": Unsupported(),
    "expand": EXPAND,
    "metadata": Metadata(),
    "period": PERIOD,
    "price_data": Unsupported(),
    "pricing": Obj({"price": Str()}),
    "quantity": Int(min=0),
    "quantity_decimal": Unsupported(),
    "tax_behavior": Unsupported(),
    "tax_code": Unsupported(),
    "tax_rates": Unsupported(),
    "unit_amount_decimal": DecimalStr(),
}
CREATE = Obj(
    {
        **WRITABLE,
        "currency": Currency(),
        "customer": Str(),
        "customer_account": Unsupported(),
        "invoice": Unsupported(),
        "subscription": Unsupported(),
    }
)
UPDATE = Obj({**WRITABLE, "invoicing_rules": Unsupported()})
RETRIEVE = Obj({"expand": EXPAND})
DELETE = Obj({})
LIST = list_params(
    created=RangeFilter(),
    customer=Str(),
    customer_account=Unsupported(),
    invoice=Str(),
    pending=Bool(),
)


def _pricing(call: Call, item: JSON) -> None:
    """Work out amount, currency and pricing from the parameters (create and update)."""
    params = call.params
    price_id = (params.get("pricing") or {}).get("price")
    if price_id is not None:
        if "amount" in params or "unit_amount_decimal" in params:
            raise exclusive_parameters("pricing[price]", "amount", "unit_amount_decimal")
        price = require_price_param(call, price_id, "pricing[price]")
        if price["type"] != "one_time":
            raise invalid_request(
                "The price specified is set to `type=recurring` but this field only accepts prices with "
                "`type=one_time`.",
                param="pricing[price]",
            )
        if "currency" in params and params["currency"] != price["currency"]:
            raise invalid_request(
                f"The currency `{params['currency']}` does not match the price's currency `{price['currency']}`.",
                param="currency",
            )
        item["currency"] = price["currency"]
        item["pricing"] = {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        }
    quantity = int(params["quantity"]) if "quantity" in params else int(item.get("quantity") or 1)
    item["quantity"] = quantity
    item["quantity_decimal"] = str(quantity)
    if "amount" in params:
        if "unit_amount_decimal" in params:
            raise exclusive_parameters("amount", "unit_amount_decimal")
        item["amount"] = params["amount"]
        item["pricing"] = {
            "price_details": None,
            "type": "price_details",
            "unit_amount_decimal": str(params["amount"]),
        }
    elif "unit_amount_decimal" in params:
        unit = params["unit_amount_decimal"]
        item["pricing"] = {"price_details": None, "type": "price_details", "unit_amount_decimal": unit}
    unit_amount = (item.get("pricing") or {}).get("unit_amount_decimal")
    if unit_amount is not None and "amount" not in params:
        item["amount"] = int((Decimal(unit_amount) * quantity).to_integral_value())
    item["net_amount"] = item.get("amount")


@routes.post("/v1/invoiceitems", params=CREATE, returns=INVOICE_ITEM)
def create(call: Call) -> JSON:
    params = call.params
    if "customer" not in params:
        raise missing_parameter("customer")
    customer = require_billable_customer(call, params["customer"], "customer")
    if "amount" not in params and "unit_amount_decimal" not in params and "pricing" not in params:
        raise invalid_request(
            "You must specify either `amount`, `pricing[price]` or `unit_amount_decimal`.", param="amount"
        )
    item = _new_item(call, customer["id"], params.get("currency") or customer["currency"])
    item["description"] = params.get("description")
    item["discountable"] = params.get("discountable", True)
    item["metadata"] = apply_metadata({}, params.get("metadata"))
    item["period"] = params.get("period", {"end": call.now, "start": call.now})
    _pricing(call, item)
    if item["currency"] is None:
        raise missing_parameter("currency")
    check_currency(call, customer, item["currency"])
    claim_currency(call, customer, item["currency"])
    stored = call.store.insert(INVOICE_ITEM, item)
    events.record(call, "invoiceitem.created", stored)
    return stored


def _new_item(call: Call, customer_id: str, currency: str | None) -> JSON:
    return {
        "id": call.store.new_id(INVOICE_ITEM),
        "object": "invoiceitem",
        "amount": 0,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "date": call.now,
        "description": None,
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "net_amount": 0,
        "parent": None,
        "period": {"end": call.now, "start": call.now},
        "pricing": None,
        "proration": False,
        "proration_details": None,
        "quantity": 1,
        "quantity_decimal": "1",
        "tax_rates": [],
        "test_clock": None,
    }


def create_proration(
    call: Call,
    *,
    subscription: JSON,
    subscription_item_id: str,
    price: JSON,
    quantity: int,
    amount: int,
    period: JSON,
    description: str,
) -> JSON:
    """A pending proration item of a subscription (a credit when ``amount`` is negative)."""
    item = _new_item(call, subscription["customer"], subscription["currency"])
    item.update(
        {
            "amount": amount,
            "description": description,
            "discountable": False,
            "net_amount": amount,
            "parent": {
                "subscription_details": {
                    "subscription": subscription["id"],
                    "subscription_item": subscription_item_id,
                },
                "type": "subscription_details",
            },
            "period": dict(period),
            "pricing": {
                "price_details": {"price": price["id"], "product": price["product"]},
                "type": "price_details",
                "unit_amount_decimal": None,
            },
            "proration": True,
            "proration_details": {"credited_items": None, "discount_amounts": []},
            "quantity": quantity,
            "quantity_decimal": str(quantity),
        }
    )
    stored = call.store.insert(INVOICE_ITEM, item)
    events.record(call, "invoiceitem.created", stored)
    return stored


def pending_for_subscription(call: Call, subscription_id: str) -> list[JSON]:
    """The subscription's pending items, oldest first (the order they appear on its next invoice)."""
    items = call.store.all(
        INVOICE_ITEM,
        lambda item: (
            item["invoice"] is None
            and ((item.get("parent") or {}).get("subscription_details") or {}).get("subscription") == subscription_id
        ),
    )
    return list(reversed(items))


def _require_editable(call: Call, item: JSON) -> None:
    if item["invoice"] is None:
        return
    invoice = call.store.get(INVOICE, item["invoice"])
    if invoice is not None and invoice["status"] != "draft":
        raise invalid_request(
            f"The invoice item {item['id']} is on the finalized invoice {invoice['id']} and can no longer be "
            "changed or deleted.",
            param="id",
        )


@routes.get("/v1/invoiceitems/{invoiceitem}", params=RETRIEVE, returns=INVOICE_ITEM)
def retrieve(call: Call) -> JSON:
    return call.store.require(INVOICE_ITEM, call.path["invoiceitem"])


@routes.post("/v1/invoiceitems/{invoiceitem}", params=UPDATE, returns=INVOICE_ITEM)
def update(call: Call) -> JSON:
    params = call.params
    item = call.store.require(INVOICE_ITEM, call.path["invoiceitem"])
    _require_editable(call, item)
    if "pricing" in params and (params["pricing"] or {}).get("price"):
        price = require_price_param(call, params["pricing"]["price"], "pricing[price]")
        if price["currency"] != item["currency"]:
            raise invalid_request(
                f"The price specified only supports `{price['currency']}`. This doesn't match the expected "
                f"currency: `{item['currency']}`.",
                param="pricing[price]",
            )
    _pricing(call, item)
    for name in ("description", "discountable", "period"):
        if name in params:
            item[name] = None if params[name] is UNSET else params[name]
    if "metadata" in params:
        item["metadata"] = apply_metadata(item["metadata"], params["metadata"])
    return call.store.save(INVOICE_ITEM, item)  # no event: Stripe has no invoiceitem.updated


@routes.delete("/v1/invoiceitems/{invoiceitem}", params=DELETE, returns=INVOICE_ITEM)
def delete(call: Call) -> JSON:
    item = call.store.require(INVOICE_ITEM, call.path["invoiceitem"])
    _require_editable(call, item)
    call.store.remove(INVOICE_ITEM, item["id"])
    events.record(call, "invoiceitem.deleted", item)
    return {"id": item["id"], "object": "invoiceitem", "deleted": True}


@routes.get("/v1/invoiceitems", params=LIST, returns=INVOICE_ITEM, is_list=True)
def list_invoice_items(call: Call) -> JSON:
    params: dict[str, Any] = call.params

    def matches(item: JSON) -> bool:
        return (
            ("customer" not in params or item["customer"] == params["customer"])
            and ("invoice" not in params or item["invoice"] == params["invoice"])
            and ("pending" not in params or (item["invoice"] is None) == params["pending"])
            and in_range(item["date"], params.get("created"))
        )

    return paginate(call, INVOICE_ITEM, call.store.all(INVOICE_ITEM, matches))
