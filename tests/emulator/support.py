"""Shared helpers of the emulator tests: where requests go (:class:`Target`) and a factory of objects."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
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

    def undo(self) -> None:
        for action in reversed(self._undo):
            with contextlib.suppress(stripe.StripeError):  # already deleted or archived by the test
                action()
        self._undo.clear()


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
