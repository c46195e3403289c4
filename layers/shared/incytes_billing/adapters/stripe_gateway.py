"""The one way this project calls Stripe: `stripe.StripeClient` with timeouts, retries and idempotency keys.

Stripe's exceptions are translated here into the domain's: unreachable, throttled or failing Stripe becomes
StripeUnavailable (503 upstream), a request Stripe refuses becomes StripeRejected (422 upstream).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import stripe
from aws_lambda_powertools import Logger

from incytes_billing.config import StripeSettings
from incytes_billing.errors import MeterEventRejected, StripeRejected, StripeUnavailable
from incytes_billing.models.catalog import MeterRecord, MeterSpec, PriceRecord, PriceSpec, ProductSpec
from incytes_billing.models.stripe import (
    CatalogPrice,
    NewSubscription,
    PeriodInvoice,
    StripeCustomer,
    StripeInvoice,
    StripeSubscription,
    StripeSubscriptionItem,
)
from incytes_billing.models.usage import MeterBatch

API_VERSION = "2026-10-28.endive"
CATALOG_KEY_METADATA = "incytes_catalog_key"
# Every schedule and subscription this service makes or links carries the funder's id (crash recovery, webhooks).
FUNDER_METADATA = "incytes_funder_id"
# How Stripe refuses a meter event whose identifier it has seen (within its dedupe window).
DUPLICATE_METER_EVENT_CODES = frozenset({"duplicate_meter_event", "meter_event_duplicate_identifier"})
RESOURCE_MISSING = "resource_missing"
# A meter event session's token lives 15 minutes: renew it a little before, not on the first refusal.
SESSION_RENEW_MARGIN_SECONDS = 60

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
        self._meter_ids: dict[str, str] = {}  # event name -> meter id (meters are never renamed)
        self._meter_session: tuple[str, float] | None = None  # stream token, expires at

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

    # --- subscriptions -----------------------------------------------------------------------------------

    def find_prices(self, lookup_keys: Sequence[str]) -> dict[str, CatalogPrice]:
        prices = self._call(
            lambda: self._client.v1.prices.list({"lookup_keys": list(lookup_keys), "active": True, "limit": 100})
        )
        return {
            price.lookup_key: CatalogPrice(price.lookup_key, price.id, _id_of(price.product), price.currency)
            for price in prices.data
            if price.lookup_key
        }

    def find_funder_subscriptions(self, customer_id: str, funder_id: str) -> list[StripeSubscription]:
        # A list, not search: search is eventually consistent, and a crash may be seconds old.
        subscriptions = self._call(
            lambda: list(
                self._client.v1.subscriptions.list(
                    {"customer": customer_id, "status": "all", "limit": 100}
                ).auto_paging_iter()
            )
        )
        return [
            _subscription(subscription)
            for subscription in subscriptions
            if _metadata_value(subscription, FUNDER_METADATA) == funder_id
        ]

    def create_subscription(self, request: NewSubscription) -> StripeSubscription:
        tag = {FUNDER_METADATA: request.funder_id}
        phase: dict[str, Any] = {
            "items": [
                {"price": request.seat_price_id, "quantity": request.seats},
                *({"price": price_id} for price_id in request.metered_price_ids),  # metered: no quantity
            ],
            # endive: a phase's length is `duration` (or `end_date`); `iterations` is gone.
            "duration": {"interval": "month", "interval_count": 1},
            "currency": request.currency,
            "collection_method": request.collection_method,
            "proration_behavior": request.proration_behavior,
            "automatic_tax": {"enabled": request.automatic_tax},
            "metadata": tag,  # phase metadata is what lands on the subscription
        }
        if request.days_until_due is not None:
            phase["invoice_settings"] = {"days_until_due": request.days_until_due}
        params: dict[str, Any] = {
            "customer": request.customer_id,
            "start_date": "now",
            "end_behavior": "release",
            "metadata": tag,
            "phases": [phase],
        }
        schedule = self._call(
            lambda: self._client.v1.subscription_schedules.create(
                params,  # type: ignore[arg-type]
                {"idempotency_key": request.idempotency_key},
            )
        )
        subscription = self.get_subscription(_id_of(schedule.subscription))
        if subscription is None:  # pragma: no cover - Stripe creates it within the request
            raise StripeUnavailable("Stripe did not return the new subscription; retry shortly.")
        return subscription

    def release_schedule(self, schedule_id: str) -> None:
        try:
            self._call(
                lambda: self._client.v1.subscription_schedules.release(
                    schedule_id, options={"idempotency_key": idempotency_key("release", schedule_id)}
                )
            )
        except StripeRejected:
            schedule = self._call(lambda: self._client.v1.subscription_schedules.retrieve(schedule_id))
            if schedule.status not in ("released", "completed", "canceled"):
                raise

    def get_subscription(self, subscription_id: str) -> StripeSubscription | None:
        subscription = self._call_or_none(lambda: self._client.v1.subscriptions.retrieve(subscription_id))
        return None if subscription is None else _subscription(subscription)

    def tag_subscription(self, subscription_id: str, funder_id: str) -> None:
        self._call(
            lambda: self._client.v1.subscriptions.update(
                subscription_id,
                {"metadata": {FUNDER_METADATA: funder_id}},
                {"idempotency_key": idempotency_key("tag", subscription_id, funder_id)},
            )
        )

    def get_invoice(self, invoice_id: str) -> StripeInvoice | None:
        invoice = self._call_or_none(lambda: self._client.v1.invoices.retrieve(invoice_id))
        return None if invoice is None else _invoice(invoice)

    def hold_invoice(self, invoice_id: str) -> StripeInvoice:
        invoice = self._call(
            lambda: self._client.v1.invoices.update(
                invoice_id,
                {"auto_advance": False},
                {"idempotency_key": idempotency_key("hold", invoice_id)},
            )
        )
        return _invoice(invoice)

    def finalize_invoice(self, invoice_id: str) -> StripeInvoice:
        # Without auto_advance=true a finalized invoice is never charged, sent, retried or reminded.
        invoice = self._call(
            lambda: self._client.v1.invoices.finalize_invoice(
                invoice_id, {"auto_advance": True}, {"idempotency_key": idempotency_key("finalize", invoice_id)}
            )
        )
        return _invoice(invoice)

    def send_invoice(self, invoice_id: str) -> StripeInvoice:
        invoice = self._call(
            lambda: self._client.v1.invoices.send_invoice(
                invoice_id, options={"idempotency_key": idempotency_key("send", invoice_id)}
            )
        )
        return _invoice(invoice)

    def set_item_quantity(self, item_id: str, quantity: int, *, proration_behavior: str, idempotency_key: str) -> None:
        self._call(
            lambda: self._client.v1.subscription_items.update(
                item_id,
                {"quantity": quantity, "proration_behavior": proration_behavior},
                {"idempotency_key": idempotency_key},
            )
        )

    def cancel_at_period_end(self, subscription_id: str, *, idempotency_key: str) -> StripeSubscription:
        subscription = self._call(
            lambda: self._client.v1.subscriptions.update(
                subscription_id, {"cancel_at_period_end": True}, {"idempotency_key": idempotency_key}
            )
        )
        return _subscription(subscription)

    def cancel_now(self, subscription_id: str, *, idempotency_key: str) -> StripeSubscription:
        subscription = self._call(
            lambda: self._client.v1.subscriptions.cancel(
                subscription_id,
                {"invoice_now": True, "prorate": True},
                {"idempotency_key": idempotency_key},
            )
        )
        return _subscription(subscription)

    # --- meter events ----------------------------------------------------------------------------------

    def send_meter_event(self, batch: MeterBatch) -> None:
        def send() -> None:
            try:
                self._client.v1.billing.meter_events.create(
                    {
                        "event_name": batch.event_name,
                        "payload": {"stripe_customer_id": batch.customer_id, "value": str(batch.value)},
                        "identifier": batch.identifier,
                        "timestamp": batch.timestamp,
                    }
                )
            except stripe.InvalidRequestError as error:
                if _is_duplicate_identifier(error):
                    return  # sent by an earlier attempt: Stripe has it
                raise MeterEventRejected(_stripe_message(error)) from error

        self._call(send)

    def stream_meter_events(self, batches: Sequence[MeterBatch]) -> None:
        events: Any = [
            {
                "event_name": batch.event_name,
                "identifier": batch.identifier,
                "payload": {"stripe_customer_id": batch.customer_id, "value": str(batch.value)},
                "timestamp": datetime.fromtimestamp(batch.timestamp, UTC).isoformat().replace("+00:00", "Z"),
            }
            for batch in batches
        ]

        def send() -> None:
            try:
                self._client.v2.billing.meter_event_stream.create({"events": events}, {"api_key": self._session()})
            except stripe.TemporarySessionExpiredError:
                self._meter_session = None  # expired early (clock skew): one new session, one retry
                self._client.v2.billing.meter_event_stream.create({"events": events}, {"api_key": self._session()})

        self._call(send)

    def _session(self) -> str:
        """The meter event stream's API key: a session token, cached until shortly before it expires."""
        if self._meter_session is None or self._meter_session[1] - time.time() < SESSION_RENEW_MARGIN_SECONDS:
            session = self._client.v2.billing.meter_event_session.create()
            expires_at = datetime.fromisoformat(str(session.expires_at).replace("Z", "+00:00")).timestamp()
            self._meter_session = (session.authentication_token, expires_at)
        return self._meter_session[0]

    def meter_total(self, event_name: str, customer_id: str, start: int, end: int) -> int:
        def total() -> int:
            meter_id = self._meter_id(event_name)
            if meter_id is None:
                return 0
            summaries = self._client.v1.billing.meters.event_summaries.list(
                meter_id, {"customer": customer_id, "start_time": start, "end_time": end, "limit": 100}
            )
            return int(sum(summary.aggregated_value for summary in summaries.auto_paging_iter()))

        return self._call(total)

    def fetch_thin_event(self, event_id: str) -> dict[str, Any]:
        event = self._call(lambda: self._client.v2.core.events.retrieve(event_id))
        return event.to_dict(recursive=True, for_json=True)

    def _meter_id(self, event_name: str) -> str | None:
        if event_name not in self._meter_ids:
            for meter in self._client.v1.billing.meters.list({"limit": 100}).auto_paging_iter():
                self._meter_ids.setdefault(meter.event_name, meter.id)
        return self._meter_ids.get(event_name)

    def undelivered_events(self, *, since: int) -> list[str]:
        events = self._call(
            lambda: list(
                self._client.v1.events.list(
                    {"delivery_success": False, "created": {"gte": since}, "limit": 100}
                ).auto_paging_iter()
            )
        )
        return [json.dumps(event.to_dict()) for event in events]

    def current_object(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        retrievers: dict[str, Callable[[], stripe.StripeObject]] = {
            "invoice": lambda: self._client.v1.invoices.retrieve(object_id),
            "subscription": lambda: self._client.v1.subscriptions.retrieve(object_id),
            # A deleted customer comes back with 200 and `deleted: true`: replayed as Stripe has it.
            "customer": lambda: self._client.v1.customers.retrieve(object_id),
        }
        retrieve = retrievers.get(object_type)
        if retrieve is None:
            return None
        current = self._call_or_none(retrieve)
        # Recursive (nested objects become dicts); for_json turns Decimal and datetime fields into text.
        return None if current is None else current.to_dict(recursive=True, for_json=True)

    # --- the invoice of an ended billing period (usage reporting) ----------------------------------------

    def period_invoice(self, subscription_id: str, period_end: int) -> PeriodInvoice | None:
        # Stripe makes the renewal invoice when the period ends (a final invoice when the subscription is
        # canceled), so it is among the subscription's invoices created since; its `period_end` is the ended
        # period's end ("looks back one period for a subscription invoice").
        def find() -> PeriodInvoice | None:
            listed = self._client.v1.invoices.list(
                {"subscription": subscription_id, "created": {"gte": period_end}, "limit": 100}
            )
            matching = [
                invoice
                for invoice in listed.auto_paging_iter()
                if invoice.period_end == period_end and invoice.billing_reason != "subscription_create"
            ]
            if not matching:
                return None
            # The renewal first; then the oldest (the invoice made when the period ended).
            chosen = min(
                matching, key=lambda invoice: (invoice.billing_reason != "subscription_cycle", invoice.created)
            )
            return _period_invoice(chosen)

        return self._call(find)


def _is_duplicate_identifier(error: stripe.InvalidRequestError) -> bool:
    message = (error.user_message or "").lower()
    return error.code in DUPLICATE_METER_EVENT_CODES or ("identifier" in message and "already exists" in message)


def _id_of(value: Any) -> str:
    """An expandable field: the id whether Stripe sent the id or the object."""
    return value if isinstance(value, str) else str(value.id)


def _subscription(subscription: stripe.Subscription) -> StripeSubscription:
    items = tuple(
        StripeSubscriptionItem(
            item_id=item.id,
            price_id=item.price.id,
            product_id=_id_of(item.price.product),
            quantity=getattr(item, "quantity", None),
            current_period_start=getattr(item, "current_period_start", None),
            current_period_end=getattr(item, "current_period_end", None),
        )
        for item in subscription.items.data
    )
    return StripeSubscription(
        subscription_id=subscription.id,
        customer_id=_id_of(subscription.customer),
        status=subscription.status,
        currency=subscription.currency,
        collection_method=subscription.collection_method,
        items=items,
        latest_invoice_id=_id_of(subscription.latest_invoice) if subscription.latest_invoice else None,
        schedule_id=_id_of(subscription.schedule) if subscription.schedule else None,
        funder_id=_metadata_value(subscription, FUNDER_METADATA),
        cancel_at_period_end=bool(subscription.cancel_at_period_end),
        canceled_at=subscription.canceled_at,
        created=subscription.created,
    )


def _invoice(invoice: stripe.Invoice) -> StripeInvoice:
    parent = getattr(invoice, "parent", None)
    details = getattr(parent, "subscription_details", None) if parent else None
    subscription = getattr(details, "subscription", None) if details else None
    return StripeInvoice(
        invoice_id=str(invoice.id),
        status=str(invoice.status),
        amount_due=invoice.amount_due,
        currency=invoice.currency,
        auto_advance=bool(getattr(invoice, "auto_advance", False)),
        billing_reason=getattr(invoice, "billing_reason", None),
        subscription_id=_id_of(subscription) if subscription else None,
        collection_method=getattr(invoice, "collection_method", None),
        customer_id=_id_of(invoice.customer) if invoice.customer else None,
    )


def _price_record(price: stripe.Price) -> PriceRecord:
    recurring = price.recurring
    product = _id_of(price.product)
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


def _period_invoice(invoice: stripe.Invoice) -> PeriodInvoice:
    return PeriodInvoice(
        invoice_id=str(invoice.id),
        status=str(invoice.status),
        billing_reason=invoice.billing_reason,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        automatically_finalizes_at=getattr(invoice, "automatically_finalizes_at", None),
    )
