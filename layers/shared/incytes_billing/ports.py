"""Ports: the small interfaces domain code talks to. Adapters implement them; tests may too."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Unpack

# Only in annotations: the domain modules loading these ports load no model they do not use themselves.
if TYPE_CHECKING:
    from datetime import datetime

    from incytes_billing.models.audit import AuditEntry
    from incytes_billing.models.catalog import MeterRecord, MeterSpec, PriceRecord, PriceSpec, ProductSpec
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
    )
    from incytes_billing.models.usage import BatchOutcome, MeterBatch, Settlement, UsageRecord, UsageStatus


class FunderRepository(Protocol):
    def get(self, funder_id: str) -> Funder | None: ...

    def existing(self, funder_ids: Collection[str]) -> set[str]:
        """Which of these funders exist (their keys only: a usage request checks many at once)."""
        ...

    def find_by_customer(self, customer_id: str) -> Funder | None:
        """The funder linked to a Stripe customer (webhooks name customers, not funders)."""
        ...

    def save(self, funder: Funder, *, expected_version: int | None) -> None:
        """Write `funder`; `expected_version` None means "must not exist yet".

        Raises ConcurrentUpdate when the stored version is not the expected one.
        """
        ...


class CustomerDirectory(Protocol):
    def get_customer(self, customer_id: str) -> StripeCustomer | None:
        """The customer, deleted ones included; None when Stripe does not know the id."""
        ...


class CatalogGateway(Protocol):
    def get_product(self, product_id: str) -> ProductSpec | None: ...

    def create_product(self, product: ProductSpec) -> None: ...

    def update_product(self, product: ProductSpec) -> None: ...

    def find_meter(self, event_name: str) -> MeterRecord | None: ...

    def create_meter(self, meter: MeterSpec) -> MeterRecord: ...

    def reactivate_meter(self, meter_id: str) -> None: ...

    def find_price(self, lookup_key: str) -> PriceRecord | None:
        """The active price holding `lookup_key`, if any."""
        ...

    def list_active_prices(self, product_id: str) -> Sequence[PriceRecord]: ...

    def create_price(self, price: PriceSpec, *, meter_id: str | None, replacing: str | None) -> PriceRecord:
        """Create the price and move its lookup key onto it from `replacing` (transfer_lookup_key)."""
        ...

    def archive_price(self, price_id: str) -> None: ...


class SubscriptionGateway(Protocol):
    def find_prices(self, lookup_keys: Sequence[str]) -> dict[str, CatalogPrice]:
        """Active prices by lookup key; missing keys are absent from the answer."""
        ...

    def create_subscription(self, request: NewSubscription) -> StripeSubscription:
        """Create it through a subscription schedule, so that its first invoice begins as a draft."""
        ...

    def release_schedule(self, schedule_id: str) -> None: ...

    def get_subscription(self, subscription_id: str) -> StripeSubscription | None: ...

    def tag_subscription(self, subscription_id: str, funder_id: str) -> None: ...

    def get_invoice(self, invoice_id: str) -> StripeInvoice | None: ...

    def hold_invoice(self, invoice_id: str) -> StripeInvoice:
        """Keep a draft a draft (auto_advance=false) until Finance approves it."""
        ...

    def finalize_invoice(self, invoice_id: str, *, auto_advance: bool = True) -> StripeInvoice: ...

    def void_invoice(self, invoice_id: str) -> StripeInvoice: ...

    def set_item_quantity(self, item_id: str, quantity: int, *, proration_behavior: str) -> None: ...

    def cancel_at_period_end(self, subscription_id: str) -> StripeSubscription: ...

    def cancel_now(self, subscription_id: str, *, prorate: bool) -> StripeSubscription:
        """Cancel at once, invoicing outstanding metered usage (invoice_now); `prorate` credits unused time."""
        ...

    def live_subscriptions(self, customer_id: str) -> list[StripeSubscription]:
        """The customer's subscriptions that still bill (any funder's, or none's)."""
        ...

    def unpaid_invoices(self, subscription_id: str) -> list[StripeInvoice]:
        """The subscription's finalized invoices still to be paid (open)."""
        ...


class StripeEventStore(Protocol):
    def insert(self, event: VerifiedEvent, *, received_at: int) -> bool:
        """Store a newly received event (conditional on its id); False when it was already stored."""
        ...

    def claim_requeue(self, event_id: str, *, now: int, until: int) -> bool:
        """Claim the right to queue a repeat delivery of an event still `received`: True (and no other claim
        before `until`) when no message was handed off for it, or its hold ended at `now` or earlier."""
        ...

    def hold_requeue(self, event_id: str, *, until: int) -> None:
        """No repeat delivery queues the event again before `until` (a message was handed off; `until` = now
        releases a claim whose hand-off failed)."""
        ...

    def get(self, event_id: str) -> StoredEvent | None: ...

    def mark(self, event_id: str, status: EventStatus) -> None:
        """Record the outcome once the event's effect is durable (only from `received`)."""
        ...


class EventQueue(Protocol):
    def enqueue(self, event_id: str) -> None:
        """Hand the stored event to asynchronous processing."""
        ...


class InvoiceRepository(Protocol):
    def get(self, invoice_id: str) -> InvoiceRecord | None: ...

    def save(self, invoice: InvoiceRecord, *, expected_version: int | None) -> None:
        """Raises ConcurrentUpdate when the stored version is not the expected one (None: must be new)."""
        ...

    def with_review_status(self, review_status: ReviewStatus) -> list[InvoiceRecord]:
        """The invoices in one review state (e.g. pending: first-invoice drafts waiting for Finance)."""
        ...


class NotificationClaims(Protocol):
    def claim(self, key: str, *, now: int, stale_after: int) -> ClaimOutcome:
        """Claim the right to publish `key`: `claimed` (go), `published` (already sent), or `in_flight`
        (claimed by another worker less than `stale_after` seconds ago). A stale claim is taken over."""
        ...

    def mark_published(self, key: str, *, now: int) -> None: ...


class FinanceNotifier(Protocol):
    def publish(self, notice: FinanceNotice) -> None: ...


class InvoiceGateway(Protocol):
    def get_invoice(self, invoice_id: str) -> StripeInvoice | None: ...

    def hold_invoice(self, invoice_id: str) -> StripeInvoice: ...

    def finalize_invoice(self, invoice_id: str, *, auto_advance: bool = True) -> StripeInvoice:
        """Finalize with auto_advance=true, so that Stripe charges or emails it and retries and reminds."""
        ...

    def release_hold(self, invoice_id: str) -> StripeInvoice:
        """auto_advance=true on a finalized invoice, so that Stripe collects it."""
        ...

    def send_invoice(self, invoice_id: str) -> StripeInvoice: ...

    def get_subscription(self, subscription_id: str) -> StripeSubscription | None: ...

    def get_customer(self, customer_id: str) -> StripeCustomer | None: ...

    def unpaid_invoices(self, subscription_id: str) -> list[StripeInvoice]: ...

    def current_object(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        """The object as Stripe renders it now (an invoice, for the create path's review notice)."""
        ...

    def invoice_lines(self, invoice_id: str) -> list[InvoiceLine]:
        """Every line of the invoice, page after page (an invoice object embeds only the first page)."""
        ...

    def fetch_event(self, event_id: str) -> dict[str, Any] | None:
        """The snapshot event as plain JSON, rendered in the API version of its creation; None once Stripe no
        longer has it (events are kept 30 days)."""
        ...


class UsageRepository(Protocol):
    def insert(self, record: UsageRecord) -> bool:
        """One conditional write; False when a record with that (funder, usage id) exists already."""
        ...

    def get(self, funder_id: str, usage_id: str) -> UsageRecord | None: ...

    def between(self, funder_id: str, start: str, end: str) -> list[UsageRecord]:
        """The funder's records with start <= occurred_at < end (UTC ISO text)."""
        ...

    def pending(self, funder_id: str, *, exclude: set[str] | frozenset[str] = frozenset()) -> list[UsageRecord]:
        """The funder's records still to report (status pending), but those with ids in `exclude`."""
        ...

    def funders_with_pending(self) -> set[str]:
        """Every funder that has records still to report (for the scheduled re-drive)."""
        ...

    def get_many(self, funder_id: str, usage_ids: list[str]) -> list[UsageRecord]:
        """The funder's records with these ids (those that exist), read consistently."""
        ...

    def settle(self, record: UsageRecord, status: UsageStatus, **settlement: Unpack[Settlement]) -> None:
        """Final state: reported (with its batch), unbillable or failed (with the reason). Only from a status
        in `expected` (pending; a record reported from a batch Stripe later refused may become failed)."""
        ...


class MeterBatchStore(Protocol):
    def save(self, batch: MeterBatch) -> MeterBatch:
        """Store a new batch; when one with that id exists, answer the stored one instead."""
        ...

    def get(self, batch_id: str) -> MeterBatch | None: ...

    def open_batches(self, funder_id: str) -> list[MeterBatch]:
        """The funder's batches not settled yet: left by an interrupted attempt, or streamed and unconfirmed."""
        ...

    def in_meter_window(self, customer_id: str, event_name: str, start: int, end: int) -> list[MeterBatch]:
        """Every batch of the customer on the meter with start <= timestamp < end, whatever its status."""
        ...

    def mark_streamed(self, batch_id: str, *, at: int) -> None:
        """The meter event stream took it; Stripe validates it later. Never moves a settled batch back."""
        ...

    def mark_settled(self, batch_id: str, outcome: BatchOutcome, *, sent_at: int | None = None) -> None:
        """Its records are settled. `sent_at`: when Stripe took it, unless recorded already (streamed)."""
        ...


class MeterGateway(Protocol):
    def send_meter_event(self, batch: MeterBatch) -> None:
        """Send the batch as one meter event, validated synchronously (its identifier makes a repeat harmless
        for at least 24 h).

        Raises MeterEventRejected when Stripe refuses it for good (the records then fail), StripeUnavailable
        when trying again later may work.
        """
        ...

    def stream_meter_events(self, batches: Sequence[MeterBatch]) -> None:
        """Send up to 100 batches through the v2 meter event stream in one request. Stripe validates them
        asynchronously: refusals come later as `v1.billing.meter.error_report_triggered` events.

        Raises StripeUnavailable when trying again later may work (repeated identifiers are dropped).
        """
        ...

    def period_invoice(self, subscription_id: str, period_end: int) -> PeriodInvoice | None:
        """The invoice of the subscription's period that ended at `period_end`: the renewal Stripe made then
        (`subscription_cycle`), or a cancellation's final invoice; None when Stripe has none. Usage of an ended
        period is billed only while this invoice is a draft."""
        ...


class ThinEventSource(Protocol):
    def fetch_thin_event(self, event_id: str) -> dict[str, Any]:
        """The thin event with its `data` (a thin delivery carries none), as plain JSON."""
        ...


class MeterSummaryGateway(Protocol):
    def meter_total(self, event_name: str, customer_id: str, start: int, end: int) -> int:
        """What Stripe's meter summaries hold for the customer in [start, end) (minute-aligned bounds)."""
        ...


class CurrentObjects(Protocol):
    def current_object(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        """The object as Stripe renders it now in our pinned API version; None when Stripe no longer has it
        or its type is not one we re-fetch."""
        ...


class UndeliveredEvents(CurrentObjects, Protocol):
    def undelivered_events(self, *, since: int) -> list[str]:
        """Raw JSON of the events Stripe could not deliver to us (events.list delivery_success=false)."""
        ...


class EventArchive(Protocol):
    def replay(self, archive_name: str, start: datetime, end: datetime) -> str:
        """Start replaying the archive's events from `start` to `end` onto the bus they came from (its rules route
        them as before); the replay's name. Starting the same window again starts nothing new."""
        ...


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None:
        """Record the entry. Never raises: the action it records is done (a Stripe write may be behind it), so
        a write that fails is logged with the whole entry (to be restored from the logs) and counted
        (`AuditWriteFailed`, alarmed) instead. Appending the same entry twice stores it once."""
        ...

    def page(self, funder_id: str, *, limit: int, after: str | None) -> tuple[list[AuditEntry], str | None]:
        """The funder's entries newest first, at most `limit`, starting after the entry whose sort key is
        `after`; with the sort key to continue from (None when there are no more)."""
        ...
