"""Shared helpers of the emulator tests: where requests go (:class:`Target`) and a factory of objects."""

from __future__ import annotations

import calendar
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from stripe_emulator import StripeEmulator


def live_stripe_key() -> str | None:
    key = os.environ.get("STRIPE_API_KEY", "")
    return key if key.startswith("sk_test_") else None


def make_client(
    api_key: str,
    base_url: str | None,
    *,
    max_network_retries: int = 0,
    timeout: float = 20.0,
) -> stripe.StripeClient:
    base_addresses: Any = {"api": base_url, "meter_events": base_url} if base_url else None
    return stripe.StripeClient(
        api_key,
        base_addresses=base_addresses,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


@dataclass
class Target:
    """Where a test sends its requests: ``emulator`` or ``stripe`` (test mode)."""

    name: str
    api_key: str
    base_url: str | None
    emulator: StripeEmulator | None

    @property
    def is_emulator(self) -> bool:
        return self.emulator is not None

    def now(self) -> int:
        """The target's clock: the emulator's (which tests move), or real time for Stripe."""
        return self.emulator.now() if self.emulator is not None else int(time.time())

    def client(self, *, api_key: str | None = None, **options: Any) -> stripe.StripeClient:
        return make_client(api_key or self.api_key, self.base_url, **options)


class Factory:
    """Creates Stripe objects with sensible defaults and undoes them after the test."""

    def __init__(self, client: stripe.StripeClient, uid: str) -> None:
        self.client = client
        self.uid = uid
        self._undo: list[Callable[[], object]] = []
        self._count = 0

    def _name(self) -> str:
        self._count += 1
        return f"{self.uid}_{self._count}"

    def customer(self, **params: Any) -> stripe.Customer:
        customer = self.client.v1.customers.create(params)  # type: ignore[arg-type]
        self._undo.append(lambda: self.client.v1.customers.delete(customer.id))
        return customer

    def product(self, **params: Any) -> stripe.Product:
        params.setdefault("name", f"{self._name()} product")
        product = self.client.v1.products.create(params)  # type: ignore[arg-type]
        self._undo.append(lambda: self.client.v1.products.update(product.id, {"active": False}))
        return product

    def price(self, **params: Any) -> stripe.Price:
        params.setdefault("currency", "usd")
        if "unit_amount_decimal" not in params:
            params.setdefault("unit_amount", 1000)
        if "product_data" not in params:
            params.setdefault("product", self.product().id)
        price = self.client.v1.prices.create(params)  # type: ignore[arg-type]
        self._undo.append(lambda: self.client.v1.prices.update(price.id, {"active": False}))
        return price

    def meter(self, **params: Any) -> stripe.billing.Meter:
        event_name = self._name()
        params.setdefault("event_name", event_name)
        params.setdefault("display_name", f"meter {event_name}")
        params.setdefault("default_aggregation", {"formula": "sum"})
        meter = self.client.v1.billing.meters.create(params)  # type: ignore[arg-type]
        self._undo.append(lambda: self.client.v1.billing.meters.deactivate(meter.id))
        return meter

    def catalog(self, currency: str = "usd") -> Catalog:
        """inCytes' three prices: seats ($35 licensed), cases ($5 metered), SMS (5¢ metered)."""
        seat = self.price(currency=currency, unit_amount=3500, recurring={"interval": "month"})
        metered: list[stripe.Price] = []
        for amount in (500, 5):
            meter = self.meter()
            metered.append(
                self.price(
                    currency=currency,
                    unit_amount=amount,
                    recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
                )
            )
        return Catalog(seat, metered[0], metered[1])

    def schedule(
        self,
        customer: str,
        catalog: Catalog,
        *,
        seats: int = 10,
        collection_method: str = "send_invoice",
        options: dict[str, Any] | None = None,
        **phase: Any,
    ) -> stripe.SubscriptionSchedule:
        """The project's one-click subscription: a schedule starting now, one month-long phase."""
        phase.setdefault("items", [{"price": catalog.seat.id, "quantity": seats}, *catalog.metered_items()])
        phase.setdefault("duration", {"interval": "month", "interval_count": 1})
        phase.setdefault("currency", catalog.seat.currency)
        phase.setdefault("collection_method", collection_method)
        if collection_method == "send_invoice":
            phase.setdefault("invoice_settings", {"days_until_due": 30})
        phase.setdefault("metadata", {"incytes_funder_id": self.uid})
        params: Any = {"customer": customer, "start_date": "now", "end_behavior": "release", "phases": [phase]}
        return self.client.v1.subscription_schedules.create(params, options or {})  # type: ignore[arg-type]

    def subscription(self, customer: str, items: list[dict[str, Any]], **params: Any) -> stripe.Subscription:
        params.setdefault("collection_method", "send_invoice")
        if params["collection_method"] == "send_invoice":
            params.setdefault("days_until_due", 30)
        return self.client.v1.subscriptions.create({"customer": customer, "items": items, **params})  # type: ignore[arg-type]

    def undo(self) -> None:
        for action in reversed(self._undo):
            with contextlib.suppress(stripe.StripeError):  # already deleted or archived by the test
                action()
        self._undo.clear()


@dataclass
class Catalog:
    seat: stripe.Price
    case: stripe.Price
    sms: stripe.Price

    def metered_items(self) -> list[dict[str, Any]]:
        return [{"price": self.case.id}, {"price": self.sms.id}]


def eventually[T](probe: Callable[[], T | None], *, timeout: float = 90.0, every: float = 2.0) -> T:
    """Poll ``probe`` until it returns something: Stripe's search and event lists lag behind writes
    (the emulator answers at once, so the first call returns)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing found within {timeout} s")
        time.sleep(every)


def add_months(timestamp: int, months: int = 1) -> int:
    """Calendar arithmetic, independently of the emulator's: same day and time, clamped to month end."""
    start = datetime.fromtimestamp(timestamp, UTC)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def error_of(error: stripe.StripeError) -> dict[str, Any]:
    """The ``error`` hash of a Stripe error response (the SDK leaves ``code`` off some exceptions)."""
    body = error.json_body
    assert isinstance(body, dict), f"no JSON body on {error!r}"
    inner = body["error"]
    assert isinstance(inner, dict)
    return inner


def metadata_of(obj: stripe.StripeObject) -> dict[str, Any]:
    metadata = obj["metadata"]
    return dict(metadata.to_dict()) if metadata is not None else {}


def unchecked(params: dict[str, Any]) -> Any:
    """Parameters the SDK's types would refuse: what a buggy caller could still send."""
    return params
