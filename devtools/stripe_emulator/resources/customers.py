"""Customers (https://docs.stripe.com/api/customers).

- ``currency`` is ``null`` until the customer is billed: an invoice item, a subscription or a
  subscription schedule sets it (``customer.updated``). A customer cannot be billed in two currencies at
  once: while it has an active subscription or schedule, or a pending invoice item, in one currency,
  anything in another is refused with "You cannot combine currencies on a single customer..."
  (https://docs.stripe.com/billing/customer#currency); once none remains, the next one sets the currency
  again.
- A deleted customer is retrieved with 200 and ``{"id", "object": "customer", "deleted": true}``; it is
  gone from lists, and updating or deleting it again answers 404 ``resource_missing``.
- Deleting a customer "immediately cancels any active subscriptions on the customer"
  (https://docs.stripe.com/api/customers/delete): resources that depend on customers have a cleanup in
  :data:`ON_DELETE` (invoices and subscriptions, wired by ``resources.connect_hooks``).
- Search (``GET /v1/customers/search``) takes ``created``, ``email``, ``metadata``, ``name``, ``phone``.
- Payment methods (see :mod:`.payments`): ``payment_method`` on create attaches a PaymentMethod (a test token
  such as ``pm_card_visa`` makes a new one; ``payment_method.attached`` after ``customer.created``);
  ``invoice_settings[default_payment_method]`` names one attached to the customer, or on create the
  ``payment_method`` token itself. ``delinquent`` follows the customer's unpaid invoices (payments).
- Events: ``customer.created``, ``customer.updated`` (with ``previous_attributes``), ``customer.deleted``
  (customers seeded through the ``/_emulator`` control record none).
"""

from __future__ import annotations

from collections.abc import Callable
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
from ..search import METADATA, SEARCH_PARAMS, SearchField, number_field, search_page, string_field
from ..store import JSON, Store, random_token
from . import events, payments
from .kinds import CUSTOMER, INVOICE_ITEM, SUBSCRIPTION, SUBSCRIPTION_SCHEDULE

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
        "default_payment_method": Str(emptyable=True),
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
        "payment_method": Str(),
        "tax_id_data": Unsupported(),
        "test_clock": Unsupported(),
    }
)
UPDATE = Obj({**WRITABLE, "default_source": Unsupported()})
RETRIEVE = Obj({"expand": EXPAND})
DELETE = Obj({})
LIST = list_params(created=RangeFilter(), email=Str(max_length=512), test_clock=Unsupported())
SEARCH_FIELDS: dict[str, SearchField] = {
    "created": number_field("created"),
    "email": string_field("email"),
    "metadata": METADATA,
    "name": string_field("name"),
    "phone": string_field("phone"),
}
LIVE_SUBSCRIPTION_STATUSES = ("active", "incomplete", "past_due", "paused", "trialing", "unpaid")

# Called as ``cleanup(call, customer)`` before a customer is deleted; the cleanups of modules that depend on
# customers (invoices, subscriptions) are wired here by ``resources.connect_hooks``, so this module needs not
# import them.
ON_DELETE: list[Callable[[Call, JSON], None]] = []


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


def billed_currency(call: Call, customer_id: str) -> str | None:
    """The currency the customer is being billed in now: that of an active subscription or schedule, or
    of a pending invoice item; ``None`` when nothing bills it."""
    store = call.store
    for subscription in store.all(
        SUBSCRIPTION, lambda sub: sub["customer"] == customer_id and sub["status"] in LIVE_SUBSCRIPTION_STATUSES
    ):
        return str(subscription["currency"])
    for schedule in store.all(
        SUBSCRIPTION_SCHEDULE,
        lambda sched: sched["customer"] == customer_id and sched["status"] in ("active", "not_started"),
    ):
        return str(schedule["phases"][0]["currency"])
    for item in store.all(INVOICE_ITEM, lambda ii: ii["customer"] == customer_id and ii["invoice"] is None):
        return str(item["currency"])
    return None


def check_currency(call: Call, customer: JSON, currency: str, *, param: str = "currency") -> None:
    """Refuse to bill ``customer`` in ``currency`` while it is billed in another one."""
    current = billed_currency(call, customer["id"])
    if current is not None and current != currency:
        raise StripeError(
            400,
            "You cannot combine currencies on a single customer. This customer has an active subscription, "
            f"subscription schedule, discount, quote, or invoice item with currency {current}.",
            param=param,
        )


def claim_currency(call: Call, customer: JSON, currency: str) -> JSON:
    """Set the customer's billing currency (after :func:`check_currency`); records ``customer.updated``."""
    if customer["currency"] == currency:
        return customer
    before = call.store.require(CUSTOMER, customer["id"])
    before_copy = dict(before)
    before["currency"] = currency
    saved = call.store.save(CUSTOMER, before)
    events.record(call, "customer.updated", saved, previous=before_copy)
    return saved


DEFAULT_PAYMENT_METHOD = "invoice_settings[default_payment_method]"


def _requested_default(params: dict[str, Any]) -> Any:
    """``invoice_settings[default_payment_method]`` as passed (``UNSET`` for ``""``), else ``None``."""
    return (params.get("invoice_settings") or {}).get("default_payment_method")


@routes.post("/v1/customers", params=CREATE, returns=CUSTOMER)
def create(call: Call) -> JSON:
    customer_id = call.store.new_id(CUSTOMER)
    token = call.params.get("payment_method")
    payment_method = payments.prepare_attach(call, token, customer_id, param="payment_method") if token else None
    default = _requested_default(call.params)
    if default not in (None, UNSET) and (payment_method is None or default != token):
        payments.require_attached(call, default, customer_id, param=DEFAULT_PAYMENT_METHOD)  # refuses
    customer = _insert(call.store, customer_id, call.now, call.params)
    if payment_method is not None and default == token:
        customer["invoice_settings"]["default_payment_method"] = payment_method["id"]
        customer = call.store.save(CUSTOMER, customer)
    events.record(call, "customer.created", customer)
    if payment_method is not None:
        payments.attach(call, payment_method, customer_id)
    return customer


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
    before = call.store.require(CUSTOMER, customer["id"])
    _apply(customer, call.params)
    default = _requested_default(call.params)
    if default is not None:
        customer["invoice_settings"]["default_payment_method"] = (
            None
            if default is UNSET
            else payments.require_attached(call, default, customer["id"], param=DEFAULT_PAYMENT_METHOD)["id"]
        )
    saved = call.store.save(CUSTOMER, customer)
    events.record(call, "customer.updated", saved, previous=before)
    return saved


@routes.delete("/v1/customers/{customer}", params=DELETE, returns=CUSTOMER)
def delete(call: Call) -> JSON:
    customer = call.store.get(CUSTOMER, call.path["customer"])
    if customer is None or customer.get("deleted"):
        raise _missing(call.path["customer"], param=CUSTOMER.missing_param, status=404)
    for cleanup in ON_DELETE:
        cleanup(call, customer)
    tombstone: JSON = {"id": customer["id"], "object": "customer", "deleted": True}
    saved = call.store.save(CUSTOMER, tombstone)
    events.record(call, "customer.deleted", customer)
    return saved


@routes.get("/v1/customers/search", params=SEARCH_PARAMS, returns=CUSTOMER, is_list=True)
def search(call: Call) -> JSON:
    live = call.store.all(CUSTOMER, lambda customer: not customer.get("deleted"))
    return search_page(call, live, SEARCH_FIELDS, "customers")


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
