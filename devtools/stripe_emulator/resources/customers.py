"""Customers (https://docs.stripe.com/api/customers).

- ``currency`` is ``null`` until the customer is billed (an invoice item sets it, see invoiceitems).
- A deleted customer is retrieved with 200 and ``{"id", "object": "customer", "deleted": true}``; it is
  gone from lists, and updating or deleting it again answers 404 ``resource_missing``.
"""

from __future__ import annotations

from typing import Any

from ..errors import StripeError, resource_missing
from ..lists import list_params, paginate
from ..params import (
    EXPAND,
    UNSET,
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
from ..store import JSON, Store, random_token
from .kinds import CUSTOMER

routes = RouteTable()

ADDRESS = Obj(
    {
        "city": Str(),
        "country": Str(),
        "line1": Str(),
        "line2": Str(),
        "postal_code": Str(),
        "state": Str(),
    },
    emptyable=True,
)
SHIPPING = Obj({"address": ADDRESS, "name": Str(required=True), "phone": Str()}, emptyable=True)
INVOICE_SETTINGS = Obj(
    {
        "custom_fields": Unsupported(),
        "default_payment_method": Unsupported(),
        "footer": Str(emptyable=True),
        "rendering_options": Unsupported(),
    }
)
TAX_EXEMPT = ("exempt", "none", "reverse")

WRITABLE = {
    "address": ADDRESS,
    "balance": Int(),
    "business_name": Str(emptyable=True),
    "cash_balance": Unsupported(),
    "description": Str(emptyable=True),
    "email": Str(emptyable=True, max_length=512),
    "expand": EXPAND,
    "individual_name": Str(emptyable=True),
    "invoice_prefix": Str(emptyable=True, max_length=12),
    "invoice_settings": INVOICE_SETTINGS,
    "metadata": Metadata(),
    "name": Str(emptyable=True, max_length=256),
    "next_invoice_sequence": Int(min=1),
    "phone": Str(emptyable=True, max_length=20),
    "preferred_locales": ListOf(Str(), emptyable=True),
    "shipping": SHIPPING,
    "source": Unsupported(),
    "tax": Unsupported(),
    "tax_exempt": Str(emptyable=True, choices=TAX_EXEMPT),
    "validate": Unsupported(),
}
CREATE = Obj(
    {
        **WRITABLE,
        "payment_method": Unsupported(),
        "tax_id_data": Unsupported(),
        "test_clock": Unsupported(),
    }
)
UPDATE = Obj({**WRITABLE, "default_source": Unsupported()})
RETRIEVE = Obj({"expand": EXPAND})
DELETE = Obj({})
LIST = list_params(created=RangeFilter(), email=Str(max_length=512), test_clock=Unsupported())


def _value(params: dict[str, Any], name: str, current: Any = None) -> Any:
    """The new value of a plain field: unchanged when absent, ``None`` when unset with ``""``."""
    if name not in params:
        return current
    value = params[name]
    return None if value is UNSET else value


def _address(value: Any) -> JSON | None:
    if value is None or value is UNSET:
        return None
    return {key: value.get(key) for key in ("city", "country", "line1", "line2", "postal_code", "state")}


def _shipping(value: Any) -> JSON | None:
    if value is None or value is UNSET:
        return None
    return {"address": _address(value.get("address") or {}), "name": value["name"], "phone": value.get("phone")}


def _apply(customer: JSON, params: dict[str, Any]) -> None:
    for name in (
        "balance",
        "business_name",
        "description",
        "email",
        "individual_name",
        "name",
        "next_invoice_sequence",
        "phone",
    ):
        customer[name] = _value(params, name, customer.get(name))
    if "invoice_prefix" in params and params["invoice_prefix"] is not UNSET:
        customer["invoice_prefix"] = params["invoice_prefix"].upper()
    if "address" in params:
        customer["address"] = _address(params["address"])
    if "shipping" in params:
        customer["shipping"] = _shipping(params["shipping"])
    if "preferred_locales" in params:
        customer["preferred_locales"] = _value(params, "preferred_locales") or []
    if "tax_exempt" in params:
        customer["tax_exempt"] = _value(params, "tax_exempt") or "none"
    if "invoice_settings" in params and "footer" in params["invoice_settings"]:
        footer = params["invoice_settings"]["footer"]
        customer["invoice_settings"]["footer"] = None if footer is UNSET else footer
    if "metadata" in params:
        customer["metadata"] = apply_metadata(customer["metadata"], params["metadata"])


def require_billable_customer(call: Call, customer_id: str, param: str) -> JSON:
    """A live customer named by a parameter (400 ``resource_missing`` if unknown or deleted)."""
    customer = call.store.get(CUSTOMER, customer_id)
    if customer is None or customer.get("deleted"):
        raise _missing(customer_id, param=param, status=400)
    return customer


def _missing(customer_id: str, *, param: str, status: int) -> StripeError:
    return resource_missing(CUSTOMER.label, customer_id, param=param, status=status)


@routes.post("/v1/customers", params=CREATE, returns=CUSTOMER)
def create(call: Call) -> JSON:
    return _insert(call.store, call.store.new_id(CUSTOMER), call.now, call.params)


def seed(store: Store, customer_id: str, name: str | None) -> JSON:
    """Emulator-only: a customer with a chosen id, so sample events and demos can name a fixed one."""
    if not customer_id.startswith(CUSTOMER.prefix) or store.exists(CUSTOMER, customer_id):
        raise ValueError(f"customer id must start with {CUSTOMER.prefix} and be new: {customer_id}")
    return _insert(store, customer_id, store.clock.now(), {"name": name} if name else {})


def _insert(store: Store, customer_id: str, now: int, params: dict[str, Any]) -> JSON:
    customer: JSON = {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": now,
        "currency": None,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "individual_name": None,
        "invoice_prefix": random_token(8, "0123456789ABCDEF"),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    _apply(customer, params)
    return store.insert(CUSTOMER, customer)


@routes.get("/v1/customers/{customer}", params=RETRIEVE, returns=CUSTOMER)
def retrieve(call: Call) -> JSON:
    return call.store.require(CUSTOMER, call.path["customer"])


@routes.post("/v1/customers/{customer}", params=UPDATE, returns=CUSTOMER)
def update(call: Call) -> JSON:
    customer = call.store.get(CUSTOMER, call.path["customer"])
    if customer is None or customer.get("deleted"):
        raise _missing(call.path["customer"], param=CUSTOMER.missing_param, status=404)
    _apply(customer, call.params)
    return call.store.save(CUSTOMER, customer)


@routes.delete("/v1/customers/{customer}", params=DELETE, returns=CUSTOMER)
def delete(call: Call) -> JSON:
    customer = call.store.get(CUSTOMER, call.path["customer"])
    if customer is None or customer.get("deleted"):
        raise _missing(call.path["customer"], param=CUSTOMER.missing_param, status=404)
    tombstone: JSON = {"id": customer["id"], "object": "customer", "deleted": True}
    return call.store.save(CUSTOMER, tombstone)


@routes.get("/v1/customers", params=LIST, returns=CUSTOMER, is_list=True)
def list_customers(call: Call) -> JSON:
    email = call.params.get("email")
    created = call.params.get("created")

    def matches(customer: JSON) -> bool:
        return (
            not customer.get("deleted")
            and (email is None or customer["email"] == email)
            and in_range(customer["created"], created)
        )

    return paginate(call, CUSTOMER, call.store.all(CUSTOMER, matches))
