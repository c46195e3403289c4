"""The in-memory ports every fast test uses: one fake per port of incytes_billing/ports.py, each subclassing its
Protocol so that mypy checks it against the port (a missing method makes the class abstract, a drifted signature an
override error). With them: one Clock, and one builder of a funder billed by a subscription."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack

from incytes_billing.adapters.dynamodb_items import plain_numbers, to_item
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.errors import ConcurrentUpdate, StripeUnavailable
from incytes_billing.models.audit import AuditEntry
from incytes_billing.models.catalog import CatalogConfig, MeterRecord, MeterSpec, PriceRecord, PriceSpec, ProductSpec
from incytes_billing.models.events import EventStatus, FinanceNotice, StoredEvent, VerifiedEvent
from incytes_billing.models.funder import Funder
from incytes_billing.models.invoice import InvoiceLine, InvoiceRecord, ReviewStatus
from incytes_billing.models.notifications import ClaimOutcome
from incytes_billing.models.stripe import (
    CatalogPrice,
    NewSubscription,
    PeriodInvoice,
    StripeCustomer,
    StripeInvoice,
    StripeSubscription,
    StripeSubscriptionItem,
)
from incytes_billing.models.stripe_events import InvoiceSnapshot
from incytes_billing.models.subscription import LIVE_SUBSCRIPTION_STATUSES, FunderSubscription, SubscriptionItem
from incytes_billing.models.usage import (
    SETTLED_FROM,
    BatchOutcome,
    MeterBatch,
    Settlement,
    UsageKind,
    UsageRecord,
    UsageStatus,
    utc_text,
)
from incytes_billing.ports import (
    AuditLog,
    CatalogGateway,
    CustomerDirectory,
    EventQueue,
    FinanceNotifier,
    FunderRepository,
    InvoiceGateway,
    InvoiceRepository,
    MeterBatchStore,
    MeterGateway,
    MeterSummaryGateway,
    NotificationClaims,
    StripeEventStore,
    SubscriptionGateway,
    ThinEventSource,
    UndeliveredEvents,
    UsageRepository,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PERIOD_START = int((NOW - timedelta(days=10)).timestamp())  # the current period of subscribed_funder()
SUBSCRIBED_AT = int((NOW - timedelta(days=40)).timestamp())
ids = itertools.count(1)


class Clock:
    """A clock tests move by hand (`clock.now = ...`): starts at NOW unless told otherwise."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def new_funder(funder_id: str, customer_id: str | None = None, **fields: Any) -> Funder:
    """A funder as PUT /funders stores it (USD, one seat, created at NOW); `fields` override any of it."""
    values: dict[str, Any] = {
        "funder_id": funder_id,
        "name": funder_id,
        "stripe_customer_id": customer_id,
        "currency": "usd",
        "seats": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Funder(**{**values, **fields})


def subscribed_funder(
    funder_id: str = "f1",
    customer_id: str = "cus_1",
    *,
    subscription_id: str = "sub_1",
    period_start: int = PERIOD_START,
    subscribed_at: int = SUBSCRIBED_AT,
    **fields: Any,
) -> Funder:
    """A funder billed by an active subscription with its seat, case and SMS items (si_seat, price_case, ...), in a
    30-day period from `period_start`."""
    items = [
        SubscriptionItem(kind=k, item_id=f"si_{k}", price_id=f"price_{k}", product_id=f"incytes_{k}", quantity=None)
        for k in ("seat", "case", "sms")
    ]
    subscription = FunderSubscription(
        subscription_id=subscription_id,
        status="active",
        items=items,
        current_period_start=period_start,
        current_period_end=period_start + 30 * 86400,
        stripe_created=subscribed_at,
    )
    return new_funder(funder_id, customer_id, subscription=subscription, **fields)


# --- funders and customers ------------------------------------------------------------------------------------


class MemoryFunders(FunderRepository):
    """`conflicts_to_raise`: that many next saves fail as if another writer won the race."""

    def __init__(self, *funders: Funder) -> None:
        self.items: dict[str, Funder] = {f.funder_id: f for f in funders}
        self.saves = 0
        self.conflicts_to_raise = 0

    def get(self, funder_id: str) -> Funder | None:
        return self.items.get(funder_id)

    def existing(self, funder_ids: Collection[str]) -> set[str]:
        return set(funder_ids) & set(self.items)

    def find_by_customer(self, customer_id: str) -> Funder | None:
        return next((f for f in self.items.values() if f.stripe_customer_id == customer_id), None)

    def save(self, funder: Funder, *, expected_version: int | None) -> None:
        current = self.items.get(funder.funder_id)
        if self.conflicts_to_raise:
            self.conflicts_to_raise -= 1
            raise ConcurrentUpdate("raced")
        if (current.version if current else None) != expected_version:
            raise ConcurrentUpdate(f"funder {funder.funder_id} is at another version")
        self.saves += 1
        self.items[funder.funder_id] = funder


class MemoryCustomers(CustomerDirectory):
    def __init__(self, *customers: StripeCustomer) -> None:
        self.customers = {customer.customer_id: customer for customer in customers}
        self.lookups = 0

    def get_customer(self, customer_id: str) -> StripeCustomer | None:
        self.lookups += 1
        return self.customers.get(customer_id)


# --- Stripe: catalog, subscriptions, invoices ----------------------------------------------------------------


class MemoryCatalog(CatalogGateway):
    """Stripe's products, meters and prices; a price's lookup key moves to a new price (transfer_lookup_key)."""

    def __init__(self) -> None:
        self.products: dict[str, ProductSpec] = {}
        self.meters: dict[str, MeterRecord] = {}
        self.prices: dict[str, PriceRecord] = {}
        self.archived: set[str] = set()
        self.writes = 0

    def get_product(self, product_id: str) -> ProductSpec | None:
        return self.products.get(product_id)

    def create_product(self, product: ProductSpec) -> None:
        self.writes += 1
        self.products[product.product_id] = product

    def update_product(self, product: ProductSpec) -> None:
        self.create_product(product)

    def find_meter(self, event_name: str) -> MeterRecord | None:
        return self.meters.get(event_name)

    def create_meter(self, meter: MeterSpec) -> MeterRecord:
        self.writes += 1
        record = MeterRecord(f"mtr_{next(ids)}", meter.event_name, active=True)
        self.meters[meter.event_name] = record
        return record

    def reactivate_meter(self, meter_id: str) -> None:
        self.writes += 1
        for name, meter in self.meters.items():
            if meter.meter_id == meter_id:
                self.meters[name] = replace(meter, active=True)

    def _active(self) -> list[PriceRecord]:
        return [price for price in self.prices.values() if price.price_id not in self.archived]

    def find_price(self, lookup_key: str) -> PriceRecord | None:
        return next((price for price in self._active() if price.lookup_key == lookup_key), None)

    def list_active_prices(self, product_id: str) -> Sequence[PriceRecord]:
        return [price for price in self._active() if price.product_id == product_id]

    def create_price(self, price: PriceSpec, *, meter_id: str | None, replacing: str | None) -> PriceRecord:
        self.writes += 1
        for other in list(self.prices.values()):  # transfer_lookup_key
            if other.lookup_key == price.lookup_key:
                self.prices[other.price_id] = replace(other, lookup_key=None)
        record = PriceRecord(
            price_id=f"price_{next(ids)}",
            lookup_key=price.lookup_key,
            product_id=price.product_id,
            currency=price.currency,
            unit_amount_decimal=price.unit_amount_decimal,
            usage_type=price.usage_type,
            meter_id=meter_id,
            tax_behavior=price.tax_behavior,
            interval="month",
            catalog_key=price.lookup_key,
        )
        self.prices[record.price_id] = record
        return record

    def archive_price(self, price_id: str) -> None:
        self.writes += 1
        self.archived.add(price_id)


class MemoryStripe(SubscriptionGateway):
    """Just enough of Stripe for the subscription routes: the catalog's prices by key, subscriptions, invoices."""

    def __init__(self, catalog: CatalogConfig) -> None:
        self.prices = {
            spec.lookup_key: CatalogPrice(spec.lookup_key, f"price_{spec.lookup_key}", spec.product_id, spec.currency)
            for spec in catalog.price_specs()
        }
        self.subscriptions: dict[str, StripeSubscription] = {}
        self.invoices: dict[str, StripeInvoice] = {}
        self.created: list[NewSubscription] = []
        self.released: list[str] = []
        self.quantity_changes: list[tuple[str, int, str]] = []
        self.cancellations: list[tuple[str, bool]] = []
        self.fail_next_create: Exception | None = None
        self.calls = 0

    def find_prices(self, lookup_keys: Sequence[str]) -> dict[str, CatalogPrice]:
        self.calls += 1
        return {key: self.prices[key] for key in lookup_keys if key in self.prices}

    def live_subscriptions(self, customer_id: str) -> list[StripeSubscription]:
        self.calls += 1
        return [
            s
            for s in self.subscriptions.values()
            if s.customer_id == customer_id and s.status in LIVE_SUBSCRIPTION_STATUSES
        ]

    def unpaid_invoices(self, subscription_id: str) -> list[StripeInvoice]:
        return []

    def add_subscription(
        self,
        customer_id: str,
        price_ids: Sequence[str],
        *,
        funder_id: str | None = None,
        status: str = "active",
        currency: str = "usd",
        invoice_status: str = "draft",
        billing_reason: str = "subscription_create",
    ) -> StripeSubscription:
        invoice = StripeInvoice(f"in_{next(ids)}", invoice_status, 10500, currency, True, billing_reason, None)
        self.invoices[invoice.invoice_id] = invoice
        products = {price.price_id: price.product_id for price in self.prices.values()}
        items = tuple(
            StripeSubscriptionItem(
                f"si_{next(ids)}", price, products.get(price, "prod_other"), 3 if "seat" in price else None, 1, 2
            )
            for price in price_ids
        )
        subscription = StripeSubscription(
            f"sub_{next(ids)}", customer_id, status, currency, "send_invoice", items, invoice.invoice_id,
            f"sub_sched_{next(ids)}", funder_id, False, None, 1,
        )  # fmt: skip
        self.subscriptions[subscription.subscription_id] = subscription
        return subscription

    def create_subscription(self, request: NewSubscription) -> StripeSubscription:
        self.calls += 1
        if self.fail_next_create is not None:
            error, self.fail_next_create = self.fail_next_create, None
            raise error
        self.created.append(request)
        return self.add_subscription(
            request.customer_id,
            [request.seat_price_id, *request.metered_price_ids],
            funder_id=request.funder_id,
            currency=request.currency,
        )

    def release_schedule(self, schedule_id: str) -> None:
        self.released.append(schedule_id)

    def get_subscription(self, subscription_id: str) -> StripeSubscription | None:
        return self.subscriptions.get(subscription_id)

    def tag_subscription(self, subscription_id: str, funder_id: str) -> None:
        self.subscriptions[subscription_id] = replace(self.subscriptions[subscription_id], funder_id=funder_id)

    def get_invoice(self, invoice_id: str) -> StripeInvoice | None:
        return self.invoices.get(invoice_id)

    def hold_invoice(self, invoice_id: str) -> StripeInvoice:
        self.invoices[invoice_id] = replace(self.invoices[invoice_id], auto_advance=False)
        return self.invoices[invoice_id]

    def finalize_invoice(self, invoice_id: str, *, auto_advance: bool = True) -> StripeInvoice:
        self.invoices[invoice_id] = replace(self.invoices[invoice_id], status="open", auto_advance=auto_advance)
        return self.invoices[invoice_id]

    def void_invoice(self, invoice_id: str) -> StripeInvoice:
        self.invoices[invoice_id] = replace(self.invoices[invoice_id], status="void")
        return self.invoices[invoice_id]

    def set_item_quantity(self, item_id: str, quantity: int, *, proration_behavior: str) -> None:
        self.quantity_changes.append((item_id, quantity, proration_behavior))

    def cancel_at_period_end(self, subscription_id: str) -> StripeSubscription:
        self.subscriptions[subscription_id] = replace(self.subscriptions[subscription_id], cancel_at_period_end=True)
        return self.subscriptions[subscription_id]

    def cancel_now(self, subscription_id: str, *, prorate: bool) -> StripeSubscription:
        self.cancellations.append((subscription_id, prorate))
        self.subscriptions[subscription_id] = replace(
            self.subscriptions[subscription_id], status="canceled", canceled_at=5
        )
        return self.subscriptions[subscription_id]


class MemoryInvoiceGateway(InvoiceGateway):
    """Stripe's side of invoices as the event processor and the approve route see it: invoices (their full line
    lists apart, as an event embeds only the first page), subscriptions, customers, events kept for
    events.retrieve and objects as they are now. `down`: events.retrieve fails as Stripe being unavailable."""

    def __init__(self) -> None:
        self.invoices: dict[str, StripeInvoice] = {}
        self.lines: dict[str, list[InvoiceLine]] = {}
        self.subscriptions: dict[str, StripeSubscription] = {}
        self.customers: dict[str, StripeCustomer] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.lines_asked: list[str] = []
        self.held: list[str] = []
        self.sent: list[str] = []
        self.down = False

    def add(self, invoice: dict[str, Any]) -> StripeInvoice:
        """An invoice as Stripe renders it (tests/stripe_fixtures.py invoice_object)."""
        snapshot = InvoiceSnapshot.model_validate(invoice)
        self.invoices[snapshot.id] = StripeInvoice(
            invoice_id=snapshot.id,
            status=snapshot.status,
            amount_due=snapshot.amount_due,
            currency=snapshot.currency,
            auto_advance=snapshot.auto_advance,
            billing_reason=snapshot.billing_reason,
            subscription_id=snapshot.subscription_id,
            collection_method=invoice.get("collection_method"),
            customer_id=snapshot.customer,
        )
        return self.invoices[snapshot.id]

    def _update(self, invoice_id: str, **changes: Any) -> StripeInvoice:
        self.invoices[invoice_id] = replace(self.invoices[invoice_id], **changes)
        return self.invoices[invoice_id]

    def get_invoice(self, invoice_id: str) -> StripeInvoice | None:
        return self.invoices.get(invoice_id)

    def hold_invoice(self, invoice_id: str) -> StripeInvoice:
        self.held.append(invoice_id)
        if self.invoices[invoice_id].status == "draft":  # as the gateway: only a draft is held
            return self._update(invoice_id, auto_advance=False)
        return self.invoices[invoice_id]

    def finalize_invoice(self, invoice_id: str, *, auto_advance: bool = True) -> StripeInvoice:
        return self._update(invoice_id, status="open", auto_advance=auto_advance)

    def release_hold(self, invoice_id: str) -> StripeInvoice:
        return self._update(invoice_id, auto_advance=True)

    def send_invoice(self, invoice_id: str) -> StripeInvoice:
        self.sent.append(invoice_id)
        return self.invoices[invoice_id]

    def get_subscription(self, subscription_id: str) -> StripeSubscription | None:
        return self.subscriptions.get(subscription_id)

    def get_customer(self, customer_id: str) -> StripeCustomer | None:
        return self.customers.get(customer_id)

    def unpaid_invoices(self, subscription_id: str) -> list[StripeInvoice]:
        return [i for i in self.invoices.values() if i.subscription_id == subscription_id and i.status == "open"]

    def current_object(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        return self.objects.get((object_type, object_id))

    def invoice_lines(self, invoice_id: str) -> list[InvoiceLine]:
        self.lines_asked.append(invoice_id)
        return self.lines[invoice_id]

    def fetch_event(self, event_id: str) -> dict[str, Any] | None:
        if self.down:
            raise StripeUnavailable("Stripe is unavailable; retry shortly.")
        return self.events.get(event_id)


class MemoryUndelivered(UndeliveredEvents):
    """Events Stripe could not deliver, and objects as Stripe has them now (`unreachable`: Stripe fails to answer)."""

    def __init__(
        self,
        payloads: Sequence[str] = (),
        current: dict[tuple[str, str], dict[str, Any]] | None = None,
        unreachable: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.payloads = list(payloads)
        self.current = current or {}
        self.unreachable = unreachable
        self.asked: list[tuple[str, str]] = []

    def undelivered_events(self, *, since: int) -> list[str]:
        return self.payloads

    def current_object(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        self.asked.append((object_type, object_id))
        if (object_type, object_id) in self.unreachable:
            raise StripeUnavailable("Stripe is unavailable; retry shortly.")
        return self.current.get((object_type, object_id))


# --- webhook events and invoices ------------------------------------------------------------------------------


class MemoryEventStore(StripeEventStore):
    """With the DynamoDB adapter's conditions: inserted once, marked only from `received`."""

    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.requeue_after: dict[str, int] = {}

    def insert(self, event: VerifiedEvent, *, received_at: int) -> bool:
        if event.event_id in self.events:
            return False
        self.events[event.event_id] = StoredEvent(
            event.event_id, event.type, event.created, event.kind, "received", event.payload
        )
        return True

    def claim_requeue(self, event_id: str, *, now: int, until: int) -> bool:
        stored = self.events.get(event_id)
        if stored is None or stored.status != "received" or self.requeue_after.get(event_id, now) > now:
            return False
        self.requeue_after[event_id] = until
        return True

    def hold_requeue(self, event_id: str, *, until: int) -> None:
        if event_id in self.events:
            self.requeue_after[event_id] = until

    def get(self, event_id: str) -> StoredEvent | None:
        return self.events.get(event_id)

    def mark(self, event_id: str, status: EventStatus) -> None:
        if self.events[event_id].status == "received":
            self.events[event_id] = replace(self.events[event_id], status=status)


class MemoryQueue(EventQueue):
    def __init__(self) -> None:
        self.queued: list[str] = []
        self.down = False

    def enqueue(self, event_id: str) -> None:
        if self.down:
            raise ConnectionError("SQS is unreachable")
        self.queued.append(event_id)


class MemoryInvoices(InvoiceRepository):
    """Kept as the DynamoDB adapter writes them (to_item: a top-level None is left out) and read back the same way."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        item = self.items.get(invoice_id)
        return None if item is None else InvoiceRecord.model_validate(plain_numbers(item))

    def save(self, invoice: InvoiceRecord, *, expected_version: int | None) -> None:
        current = self.items.get(invoice.invoice_id)
        if (current["version"] if current else None) != expected_version:
            raise ConcurrentUpdate("raced")
        self.items[invoice.invoice_id] = to_item(invoice)

    def with_review_status(self, review_status: ReviewStatus) -> list[InvoiceRecord]:
        records = (self.get(invoice_id) for invoice_id in self.items)
        return [r for r in records if r is not None and r.review_status == review_status]


class MemoryFinance(NotificationClaims, FinanceNotifier):
    """Finance's topic and the notification claims, in memory; `down` makes publishing fail."""

    def __init__(self) -> None:
        self.published: list[FinanceNotice] = []
        self.claims: dict[str, bool] = {}  # key -> published
        self.down = False

    def claim(self, key: str, *, now: int, stale_after: int) -> ClaimOutcome:
        if self.claims.get(key):
            return "published"
        self.claims[key] = False
        return "claimed"

    def mark_published(self, key: str, *, now: int) -> None:
        self.claims[key] = True

    def publish(self, notice: FinanceNotice) -> None:
        if self.down:
            raise ConnectionError("SNS is unreachable")
        self.published.append(notice)


class MemoryAuditLog(AuditLog):
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], AuditEntry] = {}

    def append(self, entry: AuditEntry) -> None:
        self.entries.setdefault((entry.funder_id, entry.sort_key), entry)

    def page(self, funder_id: str, *, limit: int, after: str | None) -> tuple[list[AuditEntry], str | None]:
        keys = sorted((key for f, key in self.entries if f == funder_id), reverse=True)
        if after is not None:
            keys = [key for key in keys if key < after]
        chosen = [self.entries[funder_id, key] for key in keys[:limit]]
        return chosen, (chosen[-1].sort_key if len(keys) > limit else None)

    def actions(self) -> list[str]:
        return [entry.action for _, entry in sorted(self.entries.items())]


# --- usage: the ledger, meter batches, Stripe's meters -------------------------------------------------------


def period_invoice(
    status: str, *, period_end: int = PERIOD_START, finalizes_at: int | None = None, invoice_id: str = "in_renewal"
) -> PeriodInvoice:
    """The invoice Stripe made when the period ending at `period_end` ended (a monthly renewal)."""
    return PeriodInvoice(
        invoice_id=invoice_id,
        status=status,
        billing_reason="subscription_cycle",
        period_start=period_end - 30 * 86400,
        period_end=period_end,
        automatically_finalizes_at=finalizes_at if status == "draft" else None,
    )


class MemoryUsage(UsageRepository):
    """The ledger with the DynamoDB adapter's conditions. `writes` counts settles (the reporter's writes)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], UsageRecord] = {}
        self.writes = 0

    def add(self, funder_id: str, usage_id: str, kind: UsageKind, quantity: int, occurred: datetime) -> None:
        """A record as the ledger would have accepted it (recorded at NOW, pending)."""
        self.records[(funder_id, usage_id)] = UsageRecord(
            funder_id=funder_id,
            usage_id=usage_id,
            kind=kind,
            quantity=quantity,
            occurred_at=utc_text(occurred),
            recorded_at=utc_text(NOW),
        )

    def insert(self, record: UsageRecord) -> bool:
        return self.records.setdefault((record.funder_id, record.usage_id), record) is record

    def get(self, funder_id: str, usage_id: str) -> UsageRecord | None:
        return self.records.get((funder_id, usage_id))

    def between(self, funder_id: str, start: str, end: str) -> list[UsageRecord]:
        return [r for (f, _), r in sorted(self.records.items()) if f == funder_id and start <= r.occurred_at < end]

    def pending(self, funder_id: str, *, exclude: set[str] | frozenset[str] = frozenset()) -> list[UsageRecord]:
        return [
            r
            for (f, u), r in sorted(self.records.items())
            if f == funder_id and r.status == "pending" and u not in exclude
        ]

    def funders_with_pending(self) -> set[str]:
        return {f for (f, _), r in self.records.items() if r.status == "pending"}

    def get_many(self, funder_id: str, usage_ids: list[str]) -> list[UsageRecord]:
        return [self.records[(funder_id, u)] for u in usage_ids if (funder_id, u) in self.records]

    def settle(self, record: UsageRecord, status: UsageStatus, **settlement: Unpack[Settlement]) -> None:
        key = (record.funder_id, record.usage_id)
        if self.records[key].status in settlement.get("expected", SETTLED_FROM):
            update = {"status": status, "reason": settlement.get("reason"), "batch_id": settlement.get("batch_id")}
            self.records[key] = self.records[key].model_copy(update=update)
            self.writes += 1

    def status(self, usage_id: str) -> tuple[str, str | None]:
        record = next(r for (_, u), r in self.records.items() if u == usage_id)
        return record.status, record.reason


class MemoryBatches(MeterBatchStore):
    def __init__(self) -> None:
        self.batches: dict[str, MeterBatch] = {}

    def save(self, batch: MeterBatch) -> MeterBatch:
        return self.batches.setdefault(batch.batch_id, batch)

    def get(self, batch_id: str) -> MeterBatch | None:
        return self.batches.get(batch_id)

    def open_batches(self, funder_id: str) -> list[MeterBatch]:
        return [b for b in self.batches.values() if b.funder_id == funder_id and b.status != "settled"]

    def in_meter_window(self, customer_id: str, event_name: str, start: int, end: int) -> list[MeterBatch]:
        return [
            b
            for b in self.batches.values()
            if b.customer_id == customer_id and b.event_name == event_name and start <= b.timestamp < end
        ]

    def mark_streamed(self, batch_id: str, *, at: int) -> None:
        if self.batches[batch_id].status != "settled":
            self.batches[batch_id] = self.batches[batch_id].model_copy(update={"status": "streamed", "sent_at": at})

    def mark_settled(self, batch_id: str, outcome: BatchOutcome, *, sent_at: int | None = None) -> None:
        batch = self.batches[batch_id]
        update = {"status": "settled", "outcome": outcome, "sent_at": batch.sent_at or sent_at}
        self.batches[batch_id] = batch.model_copy(update=update)


class MemoryMeters(MeterGateway, MeterSummaryGateway):
    """Stripe's side: meter events deduplicated by identifier, and the invoices of ended periods; faults on demand."""

    def __init__(self) -> None:
        self.events: dict[str, MeterBatch] = {}
        self.requests = 0
        self.summary_requests = 0
        self.fail: list[Exception] = []
        self.invoices: dict[tuple[str, int], PeriodInvoice] = {}  # (subscription, period end) -> its invoice
        self.invoice_requests = 0
        self.invoice_fail: list[Exception] = []

    def send_meter_event(self, batch: MeterBatch) -> None:
        self.requests += 1
        if self.fail:
            raise self.fail.pop(0)
        self.events.setdefault(batch.identifier, batch)

    def stream_meter_events(self, batches: Sequence[MeterBatch]) -> None:
        assert 1 <= len(batches) <= 100
        self.requests += 1
        if self.fail:
            raise self.fail.pop(0)
        for batch in batches:
            self.events.setdefault(batch.identifier, batch)

    def meter_total(self, event_name: str, customer_id: str, start: int, end: int) -> int:
        """Stripe's summary: the counted events of the customer on the meter with start <= timestamp < end."""
        self.summary_requests += 1
        return sum(
            e.value
            for e in self.events.values()
            if e.event_name == event_name and e.customer_id == customer_id and start <= e.timestamp < end
        )

    def period_invoice(self, subscription_id: str, period_end: int) -> PeriodInvoice | None:
        self.invoice_requests += 1
        if self.invoice_fail:
            raise self.invoice_fail.pop(0)
        return self.invoices.get((subscription_id, period_end))

    def refuse(self, identifier: str) -> None:
        """Stripe's asynchronous validation refused the event: it is not counted."""
        del self.events[identifier]

    def total(self, customer: str, kind: str) -> int:
        return sum(e.value for e in self.events.values() if e.customer_id == customer and e.kind == kind)


class MemoryThinEvents(ThinEventSource):
    """Stripe's thin events (v2), fetched by id: the meter error reports."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}

    def fetch_thin_event(self, event_id: str) -> dict[str, Any]:
        return self.events[event_id]

    def add_error_report(self, event_id: str, *errors: tuple[str, int, list[str]]) -> None:
        """A `v1.billing.meter.error_report_triggered` event: per (code, count, identifiers sampled)."""
        self.events[event_id] = {
            "id": event_id,
            "object": "v2.core.event",
            "type": "v1.billing.meter.error_report_triggered",
            "data": {
                "reason": {
                    "error_count": sum(count for _, count, _ in errors),
                    "error_types": [
                        {
                            "code": code,
                            "error_count": count,
                            "sample_errors": [
                                {"error_message": f"{code} for {identifier}", "request": {"identifier": identifier}}
                                for identifier in identifiers
                            ],
                        }
                        for code, count, identifiers in errors
                    ],
                }
            },
        }


class ReporterCrash(Exception):
    pass


def report_then_crash(reporter: UsageReporter, usage: MemoryUsage, funder_ids: list[str]) -> None:
    """Run the reporter and let it die on its first ledger mark: Stripe has the batch, the ledger does not know."""

    def crash(*args: object, **kwargs: object) -> None:
        raise ReporterCrash

    settle, usage.settle = usage.settle, crash  # type: ignore[method-assign]
    try:
        reporter.report_funders(funder_ids)
    except ReporterCrash:
        return
    finally:
        usage.settle = settle  # type: ignore[method-assign]
    raise AssertionError("the reporter marked no record: nothing to crash on")
