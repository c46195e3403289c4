"""Events shaped as Stripe's published example objects (tests/data/stripe_published_objects.json): every field
real Stripe sends, most of which our emulator never produces. Only ids, the customer, the parent subscription
and the lines are adapted to a test's funder."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

PUBLISHED_OBJECTS = Path(__file__).parent / "data" / "stripe_published_objects.json"


@cache
def _published() -> dict[str, Any]:
    objects: dict[str, Any] = json.loads(PUBLISHED_OBJECTS.read_text())
    return objects


def published(object_type: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example `event`, `invoice`, `subscription` or `customer`."""
    found: dict[str, Any] = copy.deepcopy(_published()[object_type])
    return found


def invoice_object(
    invoice_id: str,
    customer: str,
    *,
    subscription_id: str | None,
    line_count: int = 1,
    has_more: bool = False,
    **changes: Any,
) -> dict[str, Any]:
    """Stripe's example invoice for `customer`: a subscription's (parent.subscription_details) or, without
    `subscription_id`, a one-off one (`parent` null, as Stripe sends it for an invoice made in the Dashboard).
    `line_count` copies of the example line, of which the list embeds them all unless `has_more`."""
    invoice = published("invoice")
    line = invoice["lines"]["data"][0]
    lines = []
    for n in range(line_count):
        copied = copy.deepcopy(line)
        copied.update({"id": f"il_{invoice_id}_{n}", "invoice": invoice_id, "description": f"Line {n + 1}"})
        copied["amount"] = 1000 + n
        lines.append(copied)
    invoice["lines"].update({"data": lines, "has_more": has_more, "url": f"/v1/invoices/{invoice_id}/lines"})
    invoice.update({"id": invoice_id, "customer": customer, "subscription": None})
    if subscription_id is None:
        invoice["parent"] = None
    else:
        invoice["parent"] = {
            "quote_details": None,
            "subscription_details": {"metadata": None, "subscription": subscription_id},
            "type": "subscription_details",
        }
    invoice.update(changes)
    return invoice


def subscription_object(
    subscription_id: str, customer: str, items: list[tuple[str, str, str]], **changes: Any
) -> dict[str, Any]:
    """Stripe's example subscription for `customer`, with one example item per (item id, price id, product id)."""
    subscription = published("subscription")
    example = subscription["items"]["data"][0]
    listed = []
    for item_id, price_id, product_id in items:
        item = copy.deepcopy(example)
        item.update({"id": item_id, "subscription": subscription_id})
        item["price"].update({"id": price_id, "product": product_id})
        listed.append(item)
    subscription["items"].update({"data": listed, "url": f"/v1/subscription_items?subscription={subscription_id}"})
    subscription.update({"id": subscription_id, "customer": customer})
    subscription.update(changes)
    return subscription


def customer_object(customer_id: str, **changes: Any) -> dict[str, Any]:
    customer = published("customer")
    customer.update({"id": customer_id, **changes})
    return customer


def event(event_id: str, event_type: str, data_object: dict[str, Any], *, created: int) -> dict[str, Any]:
    """Stripe's example event envelope around `data_object`, in our pinned API version."""
    envelope = published("event")
    envelope.update(
        {
            "id": event_id,
            "type": event_type,
            "created": created,
            "api_version": "2026-10-28.endive",
            "data": {"object": data_object},
        }
    )
    return envelope
