"""Events and objects with every field stripe-python's typed resource classes declare for the pinned SDK version
(stripe/_invoice.py, _subscription.py, _customer.py, _event.py and their nested classes), read at test time by
:mod:`tests.stripe_sdk_types`: most of them are fields our emulator never produces, and each ``Optional`` one is
``null``, as Stripe may send it (``invoice.auto_advance``, ``invoice.status``, ``invoice.billing_reason``, …).
Over that shape go the values a test needs: ids, the customer, the parent subscription, the lines or items."""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import stripe
from stripe import Customer, Event, Invoice, InvoiceLineItem, Plan, Price, Subscription, SubscriptionItem
from stripe._list_object import ListObject

from tests.stripe_sdk_types import field_hints, is_untyped, optional

EXAMPLE_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z: a timestamp field no test sets
TIME_SUFFIXES = ("created", "start", "end", "_at", "_date", "_anchor")  # period.start, current_period_end, …
EXAMPLE_STRINGS = {"currency": "usd", "country": "US"}
MAX_DEPTH = 8  # of required nested objects (these nest 2 deep): deeper would be a cycle in the SDK


def sdk_object(cls: type, /, **values: Any) -> dict[str, Any]:
    """Every field `cls` declares (``field_hints``), then `values` over them. Each ``Optional`` field is ``null``
    (``deleted`` is left out: Stripe sends it only on a deleted object, as ``true``); a required one is a value of
    its declared type: the first of a ``Literal``'s values, ``"<field>_example"`` (``"usd"`` for a currency) for a
    string or an expandable field's id, 0 (a timestamp for ``created``, ``*_at``, ``*_start``, …), ``False``,
    ``[]``, ``{}``, an empty list object, or a nested object built the same way."""
    shaped = _shaped(cls, depth=0)
    shaped.update(values)
    return shaped


def _shaped(cls: type, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise RecursionError(f"{cls.__qualname__}: required objects nest deeper than {MAX_DEPTH}")
    return {name: _example(name, hint, depth) for name, hint in field_hints(cls).items() if name != "deleted"}


def _example(name: str, hint: Any, depth: int) -> Any:
    """A plausible JSON value for field `name` of declared type `hint`."""
    origin, args = get_origin(hint), get_args(hint)
    if optional(hint) or hint is Any:
        return None
    if origin is Literal:
        return args[0]
    if origin in (Union, types.UnionType):  # an open enum, or an expandable field (its id or the object)
        literals = [arg for arg in args if get_origin(arg) is Literal]
        return get_args(literals[0])[0] if literals else _example(name, str if str in args else args[0], depth)
    base = dict if is_untyped(hint) else origin or hint  # List[X] → list, ListObject[X] → ListObject
    plain: dict[Any, Any] = {
        bool: False,
        int: EXAMPLE_TIME if name.endswith(TIME_SUFFIXES) else 0,
        float: 0.0,
        str: EXAMPLE_STRINGS.get(name, f"{name}_example"),
        list: [],
        dict: {},
        ListObject: list_object([], f"/v1/{name}"),
    }
    if base in plain:
        return plain[base]
    if isinstance(hint, type) and field_hints(hint):
        return _shaped(hint, depth + 1)
    raise TypeError(f"no example value for {name}: {hint!r}")


def list_object(data: list[dict[str, Any]], url: str, *, has_more: bool = False) -> dict[str, Any]:
    """An embedded list (``ListObject``) as Stripe sends it."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def invoice_object(
    invoice_id: str,
    customer: str,
    *,
    subscription_id: str | None,
    line_count: int = 1,
    has_more: bool = False,
    **changes: Any,
) -> dict[str, Any]:
    """A draft invoice for `customer`: a subscription's (parent.subscription_details) or, without
    `subscription_id`, a one-off one (`parent` null, as Stripe sends it for an invoice made in the Dashboard).
    `line_count` lines ("Line 1" of 1000 cents, "Line 2" of 1001, …), of which the list embeds them all unless
    `has_more`; the invoice's amounts are their sum."""
    lines = [
        sdk_object(
            InvoiceLineItem,
            id=f"il_{invoice_id}_{n}",
            invoice=invoice_id,
            description=f"Line {n + 1}",
            amount=1000 + n,
            subtotal=1000 + n,
            quantity=1,
        )
        for n in range(line_count)
    ]
    parent = None
    if subscription_id is not None:
        details = sdk_object(Invoice.Parent.SubscriptionDetails, subscription=subscription_id)
        parent = sdk_object(Invoice.Parent, type="subscription_details", subscription_details=details)
    total = sum(line["amount"] for line in lines)
    invoice = sdk_object(
        Invoice,
        id=invoice_id,
        customer=customer,
        status="draft",
        parent=parent,
        lines=list_object(lines, f"/v1/invoices/{invoice_id}/lines", has_more=has_more),
        **dict.fromkeys(("amount_due", "amount_remaining", "subtotal", "total"), total),
    )
    invoice.update(changes)
    return invoice


def subscription_object(
    subscription_id: str, customer: str, items: list[tuple[str, str, str]], **changes: Any
) -> dict[str, Any]:
    """An active subscription for `customer`, with one monthly item of quantity 1 per (item id, price id,
    product id)."""
    listed = []
    for item_id, price_id, product_id in items:
        monthly = {"id": price_id, "product": product_id, "active": True}
        recurring = sdk_object(Price.Recurring, interval="month", interval_count=1)
        price = sdk_object(Price, **monthly, type="recurring", recurring=recurring)
        plan = sdk_object(Plan, **monthly, interval="month", interval_count=1)
        listed.append(
            sdk_object(SubscriptionItem, id=item_id, subscription=subscription_id, quantity=1, price=price, plan=plan)
        )
    url = f"/v1/subscription_items?subscription={subscription_id}"
    subscription = sdk_object(Subscription, id=subscription_id, customer=customer, items=list_object(listed, url))
    subscription.update(changes)
    return subscription


def customer_object(customer_id: str, **changes: Any) -> dict[str, Any]:
    return sdk_object(Customer, id=customer_id, **changes)


def event(event_id: str, event_type: str, data_object: dict[str, Any], *, created: int) -> dict[str, Any]:
    """A snapshot event around `data_object`, in our pinned API version."""
    return sdk_object(
        Event,
        id=event_id,
        type=event_type,
        created=created,
        api_version=stripe.api_version,
        data=sdk_object(Event.Data, object=data_object),
    )
