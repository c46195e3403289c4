"""The one way this project calls Stripe: `stripe.StripeClient` with timeouts, retries and idempotency keys.

Stripe's exceptions are translated here into the domain's: unreachable, throttled or failing Stripe becomes
StripeUnavailable (503 upstream), a request Stripe refuses becomes StripeRejected (422 upstream).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import stripe
from aws_lambda_powertools import Logger

from incytes_billing.config import StripeSettings
from incytes_billing.errors import StripeRejected, StripeUnavailable
from incytes_billing.models.catalog import MeterRecord, MeterSpec, PriceRecord, PriceSpec, ProductSpec
from incytes_billing.models.stripe import StripeCustomer

API_VERSION = "2026-10-28.endive"
CATALOG_KEY_METADATA = "incytes_catalog_key"
RESOURCE_MISSING = "resource_missing"

logger = Logger(child=True)
T = TypeVar("T")


def build_stripe_client(api_key: str, settings: StripeSettings) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        stripe_version=API_VERSION,
        base_addresses=({"api": settings.api_base, "meter_events": settings.api_base} if settings.api_base else None),
        # StripeClient's default is 0 retries and an 80 s timeout, too long for API Gateway's 29 s.
        max_network_retries=settings.max_network_retries,
        http_client=stripe.RequestsClient(timeout=settings.timeout_seconds),
    )


def idempotency_key(*parts: object) -> str:
    """Deterministic key: the same logical request always sends the same key."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"incytes-{digest[:48]}"


class StripeGateway:
    """Implements the CustomerDirectory and CatalogGateway ports."""

    def __init__(
        self,
        client: stripe.StripeClient,
        settings: StripeSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._settings = settings
        self._sleep = sleep

    # --- error translation -------------------------------------------------------------------------------

    def _call(self, operation: Callable[[], T]) -> T:
        attempts = max(1, self._settings.rate_limit_attempts)
        for attempt in range(attempts):
            try:
                return operation()
            except stripe.RateLimitError as error:
                if attempt + 1 == attempts:
                    raise StripeUnavailable("Stripe is throttling requests; retry shortly.") from error
                backoff = self._settings.rate_limit_backoff_seconds * 2**attempt
                self._sleep(backoff * (1 + random.random()))  # noqa: S311 - jitter, not security
            except stripe.InvalidRequestError as error:
                raise StripeRejected(_stripe_message(error)) from error
            except (stripe.AuthenticationError, stripe.PermissionError) as error:
                logger.error("Stripe refused our credentials", extra={"stripe_error": type(error).__name__})
                raise StripeUnavailable("Stripe is not reachable with the configured credentials.") from error
            except stripe.StripeError as error:  # connection errors, 5xx, idempotency trouble
                logger.warning("Stripe call failed", extra={"stripe_error": type(error).__name__})
                raise StripeUnavailable("Stripe is unavailable; retry shortly.") from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _call_or_none(self, operation: Callable[[], T]) -> T | None:
        """Like _call, but a 404 resource_missing answers None."""

        def guarded() -> T | None:
            try:
                return operation()
            except stripe.InvalidRequestError as error:
                if error.code == RESOURCE_MISSING:
                    return None
                raise

        return self._call(guarded)

    # --- customers ---------------------------------------------------------------------------------------

    def get_customer(self, customer_id: str) -> StripeCustomer | None:
        customer = self._call_or_none(lambda: self._client.v1.customers.retrieve(customer_id))
        if customer is None:
            return None
        # A deleted customer comes back with 200 and `deleted: true`, not with a 404.
        return StripeCustomer(
            customer_id=customer.id,
            deleted=bool(getattr(customer, "deleted", False)),
            currency=getattr(customer, "currency", None),
        )

    # --- catalog -----------------------------------------------------------------------------------------

    def get_product(self, product_id: str) -> ProductSpec | None:
        product = self._call_or_none(lambda: self._client.v1.products.retrieve(product_id))
        if product is None:
            return None
        return ProductSpec(product.id, product.name, product.unit_label or "")

    def create_product(self, product: ProductSpec) -> None:
        self._call(
            lambda: self._client.v1.products.create(
                {"id": product.product_id, "name": product.name, "unit_label": product.unit_label},
                {"idempotency_key": idempotency_key("product", product)},
            )
        )

    def update_product(self, product: ProductSpec) -> None:
        self._call(
            lambda: self._client.v1.products.update(
                product.product_id,
                {"name": product.name, "unit_label": product.unit_label, "active": True},
                {"idempotency_key": idempotency_key("product-update", product)},
            )
        )

    def find_meter(self, event_name: str) -> MeterRecord | None:
        def scan() -> MeterRecord | None:
            for meter in self._client.v1.billing.meters.list({"limit": 100}).auto_paging_iter():
                if meter.event_name == event_name:
                    return MeterRecord(meter.id, meter.event_name, meter.status == "active")
            return None

        return self._call(scan)

    def create_meter(self, meter: MeterSpec) -> MeterRecord:
        created = self._call(
            lambda: self._client.v1.billing.meters.create(
                {
                    "display_name": meter.display_name,
                    "event_name": meter.event_name,
                    "default_aggregation": {"formula": "sum"},
                    "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
                    "value_settings": {"event_payload_key": "value"},
                },
                {"idempotency_key": idempotency_key("meter", meter)},
            )
        )
        return MeterRecord(created.id, created.event_name, created.status == "active")

    def reactivate_meter(self, meter_id: str) -> None:
        self._call(lambda: self._client.v1.billing.meters.reactivate(meter_id))

    def find_price(self, lookup_key: str) -> PriceRecord | None:
        prices = self._call(
            lambda: self._client.v1.prices.list({"lookup_keys": [lookup_key], "active": True, "limit": 1})
        )
        return _price_record(prices.data[0]) if prices.data else None

    def list_active_prices(self, product_id: str) -> Sequence[PriceRecord]:
        return self._call(
            lambda: [
                _price_record(price)
                for price in self._client.v1.prices.list(
                    {"product": product_id, "active": True, "limit": 100}
                ).auto_paging_iter()
            ]
        )

    def create_price(self, price: PriceSpec, *, meter_id: str | None, replacing: str | None) -> PriceRecord:
        recurring: dict[str, Any] = {"interval": "month", "usage_type": price.usage_type}
        if meter_id is not None:
            recurring["meter"] = meter_id
        params: dict[str, Any] = {
            "product": price.product_id,
            "currency": price.currency,
            "unit_amount_decimal": str(price.unit_amount_decimal),
            "recurring": recurring,
            "tax_behavior": price.tax_behavior,
            "lookup_key": price.lookup_key,
            "transfer_lookup_key": True,
            "metadata": {CATALOG_KEY_METADATA: price.lookup_key},
        }
        # The key names the price being replaced too, so A -> B -> A within 24 h is not a replay of the first A.
        key = idempotency_key("price", price, meter_id, replacing)
        created = self._call(lambda: self._client.v1.prices.create(params, {"idempotency_key": key}))  # type: ignore[arg-type]
        return _price_record(created)

    def archive_price(self, price_id: str) -> None:
        self._call(lambda: self._client.v1.prices.update(price_id, {"active": False}))


def _price_record(price: stripe.Price) -> PriceRecord:
    recurring = price.recurring
    product = price.product if isinstance(price.product, str) else price.product.id
    return PriceRecord(
        price_id=price.id,
        lookup_key=price.lookup_key,
        product_id=product,
        currency=price.currency,
        unit_amount_decimal=Decimal(str(price.unit_amount_decimal or price.unit_amount or 0)),
        usage_type=recurring.usage_type if recurring else "one_time",
        meter_id=recurring.meter if recurring else None,
        tax_behavior=price.tax_behavior or "unspecified",
        interval=recurring.interval if recurring else "",
        catalog_key=_metadata_value(price, CATALOG_KEY_METADATA),
    )


def _metadata_value(stripe_object: Any, key: str) -> str | None:
    # StripeObject is not a dict (stripe >= 15): subscript it instead of calling .get().
    try:
        value = stripe_object.metadata[key]
    except (KeyError, TypeError):
        return None
    return str(value)


def _stripe_message(error: stripe.StripeError) -> str:
    return error.user_message or "Stripe rejected the request."
