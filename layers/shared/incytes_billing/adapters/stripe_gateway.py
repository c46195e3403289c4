"""The one way this project calls Stripe: `stripe.StripeClient` with timeouts, retries and idempotency keys.

Stripe's exceptions are translated here into the domain's: unreachable, throttled or failing Stripe becomes
StripeUnavailable (503 upstream), a request Stripe refuses becomes StripeRejected (422 upstream).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import stripe
from aws_lambda_powertools import Logger

from incytes_billing import invocation
from incytes_billing.config import StripeSettings
from incytes_billing.errors import MeterEventRejected, StripeRejected, StripeUnavailable

# The models are imported where used: a function calling Stripe on every request loads this module at init, and
# only some of them ever sync the catalog or read invoice lines (pydantic models), and none needs the Stripe-object
# dataclasses (`models.stripe`, ~35 M instructions to define) before a request builds one.
if TYPE_CHECKING:
    from incytes_billing.models.catalog import MeterRecord, MeterSpec, PriceRecord, PriceSpec, ProductSpec
    from incytes_billing.models.invoice import InvoiceLine
    from incytes_billing.models.stripe import (
        CatalogPrice,
        NewSubscription,
        PeriodInvoice,
        StripeCustomer,
        StripeInvoice,
        StripeSubscription,
    )
    from incytes_billing.models.usage import MeterBatch

API_VERSION = "2026-10-28.endive"
CATALOG_KEY_METADATA = "incytes_catalog_key"
# How Stripe refuses a meter event whose identifier it has seen (within its dedupe window).
DUPLICATE_METER_EVENT_CODES = frozenset({"duplicate_meter_event", "meter_event_duplicate_identifier"})
RESOURCE_MISSING = "resource_missing"
# A meter event session's token lives 15 minutes: renew it a little before, not on the first refusal.
SESSION_RENEW_MARGIN_SECONDS = 60

# A Stripe request is not started with less time than this left before the invocation must answer.
MIN_REQUEST_SECONDS = 1.0
# Failures after which a write is tried again with a fresh key (after reading Stripe's state).
RETRYABLE_WRITE_ERRORS = (stripe.APIError, stripe.APIConnectionError, stripe.IdempotencyError)

logger = Logger(child=True)
T = TypeVar("T")


class DeadlineRequestsClient(stripe.RequestsClient):
    """The SDK's HTTP client, fitted to the invocation's deadline: no request outlives it, no retry starts
    that could not finish (else API Gateway answers 502 after 29 s, or Lambda kills the function)."""

    def __init__(self, *, timeout: float, answer_margin_seconds: float) -> None:
        super().__init__(timeout=timeout)
        self._base_timeout = timeout
        self._margin = answer_margin_seconds

    def _usable_seconds(self) -> float:
        return invocation.current().seconds_left() - self._margin

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> tuple[bytes, int, Any]:  # type: ignore[override]
        usable = self._usable_seconds()
        if usable < MIN_REQUEST_SECONDS:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                "No time left in this invocation to call Stripe.", should_retry=False
            )
        self._timeout = min(self._base_timeout, usable)  # RequestsClient reads it for each request
        content, status, response_headers = super().request(method, url, headers, post_data)
        # Every response Stripe sent (errors and the SDK's retries too) is in Stripe's request log under this
        # id: the audit trail records them. Read here, as `last_response.request_id` misses list pages and errors.
        stripe_request_id = response_headers.get("Request-Id") if response_headers is not None else None
        if stripe_request_id:
            invocation.current().note_stripe_request(str(stripe_request_id))
        return content, status, response_headers

    def _should_retry(
        self, response: Any, api_connection_error: Any, num_retries: int, max_network_retries: Any
    ) -> bool:
        if self._usable_seconds() < MIN_REQUEST_SECONDS + self._sleep_time_seconds(num_retries + 1):
            return False
        return bool(super()._should_retry(response, api_connection_error, num_retries, max_network_retries))


def build_stripe_client(api_key: str, settings: StripeSettings) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        stripe_version=API_VERSION,
        base_addresses=({"api": settings.api_base, "meter_events": settings.api_base} if settings.api_base else None),
        # StripeClient's default is 0 retries and an 80 s timeout, too long for API Gateway's 29 s.
        max_network_retries=settings.max_network_retries,
        http_client=DeadlineRequestsClient(
            timeout=settings.timeout_seconds, answer_margin_seconds=settings.answer_margin_seconds
        ),
    )


def idempotency_key(*parts: object) -> str:
    """Deterministic key: the same logical request always sends the same key."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"incytes-{digest[:48]}"


def attempt_key(operation: str, target: str, params: Mapping[str, Any], attempt: int) -> str:
    """The key of one attempt at a write: its content (every parameter), the invocation and the attempt.

    The SDK's network retries of the attempt reuse it. A new attempt (another invocation, or after a 5xx that
    Stripe saved under the key and would replay for 24 h) gets a new one.
    """
    content = json.dumps(params, sort_keys=True, default=str)
    return idempotency_key(operation, target, content, invocation.current().request_id, attempt)


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

    def _every[R: stripe.StripeObject](self, first_page: Callable[[], stripe.ListObject[R]]) -> list[R]:
        """Every item of a Stripe list, page after page (each request as in _call)."""
        return self._call(lambda: list(first_page().auto_paging_iter()))

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
        from incytes_billing.models.stripe import StripeCustomer

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
        from incytes_billing.models.catalog import ProductSpec

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
        from incytes_billing.models.catalog import MeterRecord

        def scan() -> MeterRecord | None:
            for meter in self._client.v1.billing.meters.list({"limit": 100}).auto_paging_iter():
                if meter.event_name == event_name:
                    return MeterRecord(meter.id, meter.event_name, meter.status == "active")
            return None

        return self._call(scan)

    def create_meter(self, meter: MeterSpec) -> MeterRecord:
        from incytes_billing.models.catalog import MeterRecord

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
        prices = self._every(lambda: self._client.v1.prices.list({"product": product_id, "active": True, "limit": 100}))
        return [_price_record(price) for price in prices]

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
        from incytes_billing.models.stripe import CatalogPrice

        prices = self._call(
            lambda: self._client.v1.prices.list({"lookup_keys": list(lookup_keys), "active": True, "limit": 100})
        )
        return {
            price.lookup_key: CatalogPrice(price.lookup_key, price.id, _id_of(price.product), price.currency)
            for price in prices.data
            if price.lookup_key
        }

    def live_subscriptions(self, customer_id: str) -> list[StripeSubscription]:
        from incytes_billing.models.subscription import LIVE_SUBSCRIPTION_STATUSES

        # status=all, filtered here: Stripe's default list leaves out some live states (e.g. paused).
        subscriptions = self._every(
            lambda: self._client.v1.subscriptions.list({"customer": customer_id, "status": "all", "limit": 100})
        )
        return [
            _subscription(subscription)
            for subscription in subscriptions
            if subscription.status in LIVE_SUBSCRIPTION_STATUSES
        ]

    def unpaid_invoices(self, subscription_id: str) -> list[StripeInvoice]:
        invoices = self._every(
            lambda: self._client.v1.invoices.list({"subscription": subscription_id, "status": "open", "limit": 100})
        )
        return [_invoice(invoice) for invoice in invoices]

    def create_subscription(self, request: NewSubscription) -> StripeSubscription:
        from incytes_billing.models.stripe import FUNDER_METADATA

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
        def released() -> bool | None:
            schedule = self._client.v1.subscription_schedules.retrieve(schedule_id)
            return True if schedule.status in ("released", "completed", "canceled") else None

        try:
            self._write(
                "release",
                schedule_id,
                {},
                lambda options: self._client.v1.subscription_schedules.release(schedule_id, options=options),
                done=released,
            )
        except StripeRejected:
            if self._call(released) is None:
                raise

    def get_subscription(self, subscription_id: str) -> StripeSubscription | None:
        subscription = self._call_or_none(lambda: self._client.v1.subscriptions.retrieve(subscription_id))
        return None if subscription is None else _subscription(subscription)

    def tag_subscription(self, subscription_id: str, funder_id: str) -> None:
        from incytes_billing.models.stripe import FUNDER_METADATA

        params: dict[str, Any] = {"metadata": {FUNDER_METADATA: funder_id}}
        self._write(
            "tag",
            subscription_id,
            params,
            lambda options: _subscription(self._client.v1.subscriptions.update(subscription_id, params, options)),  # type: ignore[arg-type]
            done=lambda: self._subscription_if(subscription_id, lambda sub: sub.funder_id == funder_id),
        )

    def get_invoice(self, invoice_id: str) -> StripeInvoice | None:
        invoice = self._call_or_none(lambda: self._client.v1.invoices.retrieve(invoice_id))
        return None if invoice is None else _invoice(invoice)

    def hold_invoice(self, invoice_id: str) -> StripeInvoice:
        """Turn off auto_advance on a draft. Stripe's state decides: an invoice already held, or no longer a
        draft (holding an open invoice would silently stop Stripe collecting it), is answered as it is."""
        return self._set_auto_advance(
            "hold", invoice_id, False, settled=lambda invoice: invoice.status != "draft" or not invoice.auto_advance
        )

    def release_hold(self, invoice_id: str) -> StripeInvoice:
        """Turn auto_advance back on for a finalized invoice (else Stripe never charges, sends or reminds)."""
        return self._set_auto_advance(
            "unhold", invoice_id, True, settled=lambda invoice: invoice.auto_advance or invoice.status != "open"
        )

    def _set_auto_advance(
        self, operation: str, invoice_id: str, auto_advance: bool, *, settled: Callable[[StripeInvoice], bool]
    ) -> StripeInvoice:
        """Set an invoice's auto_advance unless Stripe's copy, read first, is `settled` already."""
        params = {"auto_advance": auto_advance}
        return self._write(
            operation,
            invoice_id,
            params,
            lambda options: _invoice(self._client.v1.invoices.update(invoice_id, params, options)),  # type: ignore[arg-type]
            done=lambda: self._invoice_if(invoice_id, settled),
            read_first=True,
        )

    def finalize_invoice(self, invoice_id: str, *, auto_advance: bool = True) -> StripeInvoice:
        # Without auto_advance=true a finalized invoice is never charged, sent, retried or reminded.
        params = {"auto_advance": auto_advance}
        return self._write(
            "finalize",
            invoice_id,
            params,
            lambda options: _invoice(self._client.v1.invoices.finalize_invoice(invoice_id, params, options)),  # type: ignore[arg-type]
            done=lambda: self._invoice_if(invoice_id, lambda invoice: invoice.status != "draft"),
        )

    def void_invoice(self, invoice_id: str) -> StripeInvoice:
        return self._write(
            "void",
            invoice_id,
            {},
            lambda options: _invoice(self._client.v1.invoices.void_invoice(invoice_id, options=options)),
            done=lambda: self._invoice_if(invoice_id, lambda invoice: invoice.status == "void"),
        )

    def send_invoice(self, invoice_id: str) -> StripeInvoice:
        # Stripe keeps no "sent" state to read back: a failed attempt is simply made again with a new key.
        return self._write(
            "send",
            invoice_id,
            {},
            lambda options: _invoice(self._client.v1.invoices.send_invoice(invoice_id, options=options)),
            done=lambda: None,
        )

    def set_item_quantity(self, item_id: str, quantity: int, *, proration_behavior: str) -> None:
        params = {"quantity": quantity, "proration_behavior": proration_behavior}

        def set_already() -> bool | None:
            item = self._client.v1.subscription_items.retrieve(item_id)
            return True if item.quantity == quantity else None

        self._write(
            "seats",
            item_id,
            params,
            lambda options: self._client.v1.subscription_items.update(item_id, params, options),  # type: ignore[arg-type]
            done=set_already,
        )

    def cancel_at_period_end(self, subscription_id: str) -> StripeSubscription:
        params = {"cancel_at_period_end": True}
        return self._write(
            "cancel-at-period-end",
            subscription_id,
            params,
            lambda options: _subscription(self._client.v1.subscriptions.update(subscription_id, params, options)),  # type: ignore[arg-type]
            done=lambda: self._subscription_if(
                subscription_id, lambda sub: sub.cancel_at_period_end or sub.status == "canceled"
            ),
        )

    def cancel_now(self, subscription_id: str, *, prorate: bool) -> StripeSubscription:
        # invoice_now bills the usage recorded so far; prorate credits unused time of a period already paid.
        params = {"invoice_now": True, "prorate": prorate}
        return self._write(
            "cancel-now",
            subscription_id,
            params,
            lambda options: _subscription(self._client.v1.subscriptions.cancel(subscription_id, params, options)),  # type: ignore[arg-type]
            done=lambda: self._subscription_if(subscription_id, lambda sub: sub.status == "canceled"),
        )

    def _invoice_if(self, invoice_id: str, settled: Callable[[StripeInvoice], bool]) -> StripeInvoice | None:
        """The invoice as Stripe has it when `settled` holds for it (nothing left to write), else None."""
        invoice = _invoice(self._client.v1.invoices.retrieve(invoice_id))
        return invoice if settled(invoice) else None

    def _subscription_if(
        self, subscription_id: str, settled: Callable[[StripeSubscription], bool]
    ) -> StripeSubscription | None:
        subscription = _subscription(self._client.v1.subscriptions.retrieve(subscription_id))
        return subscription if settled(subscription) else None

    def _write(
        self,
        operation: str,
        target: str,
        params: Mapping[str, Any],
        send: Callable[[Any], T],
        *,
        done: Callable[[], T | None],
        read_first: bool = False,
    ) -> T:
        """One Stripe write, made at most once in effect, never blocked by a saved failure.

        Each attempt has its own idempotency key (attempt_key). Stripe saves a 5xx under its key and replays
        it for 24 h, so after a failed attempt Stripe's state decides: the effect is there (`done` answers
        it) or a new attempt is made with a new key, while the invocation has time for one. With `read_first`,
        Stripe's state is read before the first attempt too (a write that must not touch some states).
        """
        attempts = max(1, self._settings.write_attempts)
        for attempt in range(attempts):
            if attempt or read_first:
                already = self._call(done)
                if already is not None:
                    return already
            options = {"idempotency_key": attempt_key(operation, target, params, attempt)}
            try:
                return self._call(functools.partial(send, options))
            except StripeUnavailable as error:
                last_attempt = attempt + 1 == attempts
                if last_attempt or not isinstance(error.__cause__, RETRYABLE_WRITE_ERRORS):
                    raise
                logger.info(
                    "Stripe write failed; reading Stripe's state before a new attempt",
                    extra={"operation": operation, "attempt": attempt + 1},
                )
        raise AssertionError("unreachable")  # pragma: no cover

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

    def fetch_event(self, event_id: str) -> dict[str, Any] | None:
        # Retrievable for 30 days: "You can access events through the Retrieve Event API for 30 days"
        # (https://docs.stripe.com/api/events; https://support.stripe.com/questions/stripe-event-retention-period).
        # Rendered in the API version of the event's creation, like events.list.
        event = self._call_or_none(lambda: self._client.v1.events.retrieve(event_id))
        return None if event is None else event.to_dict(recursive=True, for_json=True)

    def fetch_thin_event(self, event_id: str) -> dict[str, Any]:
        event = self._call(lambda: self._client.v2.core.events.retrieve(event_id))
        return event.to_dict(recursive=True, for_json=True)

    def _meter_id(self, event_name: str) -> str | None:
        if event_name not in self._meter_ids:
            for meter in self._client.v1.billing.meters.list({"limit": 100}).auto_paging_iter():
                self._meter_ids.setdefault(meter.event_name, meter.id)
        return self._meter_ids.get(event_name)

    def undelivered_events(self, *, since: int) -> list[str]:
        events = self._every(
            lambda: self._client.v1.events.list({"delivery_success": False, "created": {"gte": since}, "limit": 100})
        )
        # As Stripe sent them: recursive, with Decimal fields (unit_amount_decimal, ...) back to text.
        return [json.dumps(event.to_dict(recursive=True, for_json=True)) for event in events]

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

    # --- invoice lines -----------------------------------------------------------------------------------

    def invoice_lines(self, invoice_id: str) -> list[InvoiceLine]:
        from incytes_billing.models.invoice import InvoiceLine

        lines = self._every(lambda: self._client.v1.invoices.line_items.list(invoice_id, {"limit": 100}))
        return [
            InvoiceLine(
                description=line.description,
                amount=line.amount,
                quantity=line.quantity,
                period_start=line.period.start,
                period_end=line.period.end,
            )
            for line in lines
        ]

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
    from incytes_billing.models.stripe import FUNDER_METADATA, StripeSubscription, StripeSubscriptionItem

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
    from incytes_billing.models.stripe import StripeInvoice

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
        number=getattr(invoice, "number", None),
        amount_remaining=getattr(invoice, "amount_remaining", None),
    )


def _price_record(price: stripe.Price) -> PriceRecord:
    from incytes_billing.models.catalog import PriceRecord

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
    from incytes_billing.models.stripe import PeriodInvoice

    return PeriodInvoice(
        invoice_id=str(invoice.id),
        status=str(invoice.status),
        billing_reason=invoice.billing_reason,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        automatically_finalizes_at=getattr(invoice, "automatically_finalizes_at", None),
    )
