"""Billing arithmetic shared by subscriptions, invoices and invoice items.

- **Periods** follow the calendar (https://docs.stripe.com/billing/subscriptions/billing-cycle): a
  monthly period started on 31 January ends on the last day of February, at the same time of day (UTC);
  the ``n``-th period end is always computed from the anchor, so the day of month comes back to 31.
- **Prorations** are computed "down to the second based on the starting timestamp of the billing
  period" (https://docs.stripe.com/billing/subscriptions/prorations): unit amount × quantity ×
  (seconds left ÷ seconds in the period), rounded half up to the currency's minor unit.
- **Descriptions** mimic Stripe's invoice wording: ``10 × Seat (at $35.00 / month)``,
  ``Unused time on 10 × Seat after 15 Jan 2026``, ``Remaining time on 12 × Seat after 15 Jan 2026``.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..store import JSON, Store
from .kinds import PRODUCT

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$", "chf": "CHF "}


# periods -------------------------------------------------------------------------------------------
def add_interval(anchor: int, interval: str, count: int = 1) -> int:
    """``anchor`` moved ``count`` intervals forward, on the calendar (UTC)."""
    start = datetime.fromtimestamp(anchor, UTC)
    if interval == "day":
        return int((start + timedelta(days=count)).timestamp())
    if interval == "week":
        return int((start + timedelta(weeks=count)).timestamp())
    months = count * (12 if interval == "year" else 1)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def price_period_end(price: JSON, start: int) -> int:
    recurring = price["recurring"] or {"interval": "month", "interval_count": 1}
    return add_interval(start, recurring["interval"], recurring.get("interval_count") or 1)


def is_metered(price: JSON) -> bool:
    return bool(price.get("recurring")) and price["recurring"]["usage_type"] == "metered"


# money and wording ---------------------------------------------------------------------------------
def unit_amount(price: JSON) -> Decimal:
    return Decimal(price["unit_amount_decimal"] or price["unit_amount"] or 0)


def amount_of(price: JSON, quantity: int) -> int:
    return round_minor(unit_amount(price) * quantity)


def round_minor(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_money(amount: Decimal, currency: str) -> str:
    """``$35.00``; a fraction of a minor unit (``unit_amount_decimal``) is shown, not rounded: ``$0.125``."""
    symbol = CURRENCY_SYMBOLS.get(currency, currency.upper() + " ")
    major = amount if currency in ZERO_DECIMAL_CURRENCIES else amount / 100
    places = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    exponent = major.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        places = -exponent
    return f"{symbol}{major:,.{places}f}"


def interval_text(price: JSON) -> str:
    recurring = price["recurring"] or {}
    count = recurring.get("interval_count") or 1
    interval = recurring.get("interval", "month")
    return interval if count == 1 else f"{count} {interval}s"


def product_name(store: Store, price: JSON) -> str:
    product = store.get(PRODUCT, price["product"])
    return str(product["name"]) if product else str(price["product"])


def format_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%d %b %Y")


def item_description(store: Store, price: JSON, quantity: int) -> str:
    return (
        f"{quantity} × {product_name(store, price)} "
        f"(at {format_money(unit_amount(price), price['currency'])} / {interval_text(price)})"
    )


def proration_description(store: Store, price: JSON, quantity: int, *, credit: bool, at: int) -> str:
    prefix = "Unused time on" if credit else "Remaining time on"
    return f"{prefix} {quantity} × {product_name(store, price)} after {format_date(at)}"


def prorated_amount(price: JSON, quantity: int, *, start: int, end: int, at: int) -> int:
    """The share of one period's amount for ``[at, end)`` of the period ``[start, end)``."""
    if end <= start:
        return 0
    remaining = max(0, end - max(at, start))
    fraction = Decimal(remaining) / Decimal(end - start)
    return round_minor(unit_amount(price) * quantity * fraction)


# the legacy plan object every subscription item still carries ----------------------------------------
def plan_of(price: JSON) -> JSON:
    recurring: dict[str, Any] = price["recurring"] or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": dict(price["metadata"]),
        "meter": recurring.get("meter"),
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }
