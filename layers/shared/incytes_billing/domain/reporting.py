"""Reporting the usage ledger to Stripe meters: aggregated per funder, kind and billing period, exactly once.

Order of writes, so that any crash is recovered without loss or double billing:
1. the batch (its record ids, total and meter-event identifier) is saved, open;
2. the meter event is sent (Stripe dedupes its identifier: "already exists" means delivered);
3. each record is marked `reported` (with the batch id), then the batch settled (with when it was sent).
A retry first finishes the funder's open batches, re-sending *their* identifier, and leaves their records out
of any new batch. Two DynamoDB writes per record (recorded, then settled); batches add a few per event.
One reporter runs at a time (reserved concurrency 1), so two batches never take the same record.
A batch saved more than 24 h ago is not re-sent blindly (Stripe's dedupe is only guaranteed for 24 h): it is
left for the reconciler, which checks the meter summaries first.

Usage of a period that has ended (late usage) is billed only while that period's invoice is a draft: the
invoice decides (BillingPeriods), not how long ago the period ended.

Two modes (`METER_EVENT_MODE`):
- `sync` (default): one `v1/billing/meter_events` request per batch, validated synchronously, so its records
  are `reported` as soon as Stripe answers.
- `stream`: the v2 meter event stream, up to 100 batches per request (~10,000 requests/s at Stripe). Stripe
  validates asynchronously, so a streamed batch's records stay `pending` until it is settled: refused by a
  `v1.billing.meter.error_report_triggered` event (domain.meter_errors), or confirmed (or found missing)
  against the meter summaries by the reconciler (domain.batch_checks).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, InitVar, dataclass, field
from datetime import datetime

from incytes_billing.domain import finance_messages
from incytes_billing.domain.clock import TimedService
from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.domain.policy import MeterEventMode
from incytes_billing.domain.stripe_limits import (
    METER_EVENT_IDENTIFIER_WINDOW_SECONDS,
    METER_EVENT_MAX_AGE_SECONDS,
    METER_EVENT_STREAM_MAX_EVENTS,
)
from incytes_billing.errors import MeterEventRejected, StripeUnavailable
from incytes_billing.models.catalog import CatalogConfig
from incytes_billing.models.funder import Funder
from incytes_billing.models.stripe import PeriodInvoice
from incytes_billing.models.subscription import FunderSubscription
from incytes_billing.models.usage import MeterBatch, UsageKind, UsageRecord
from incytes_billing.ports import FunderRepository, MeterBatchStore, MeterGateway, UsageRepository

# Late usage is sent to a draft only if it stays one at least this long: a run takes up to 2 minutes (the
# reporter's timeout) between asking and sending, and Stripe processes meter events asynchronously (the
# reconciler allows its summaries 15 minutes), so an event sent closer to the finalization may miss the invoice.
# Usage refused for that is unbillable and told to Finance; usage sent and never invoiced would go unnoticed.
FINALIZATION_MARGIN_SECONDS = 15 * 60
ALREADY_INVOICED = "its billing period was already invoiced"
# A batch item holds its record ids: this keeps it far below DynamoDB's 400 KB item limit.
MAX_RECORDS_PER_BATCH = 1000

Planned = tuple[MeterBatch, list[UsageRecord]]


@dataclass
class ReportSummary:
    sent_batches: int = 0
    streamed_batches: int = 0
    reported: int = 0
    unbillable: int = 0
    failed: int = 0
    waiting: int = 0  # no customer or subscription yet, a batch left for the reconciler, or Stripe unavailable
    awaiting_validation: int = 0  # streamed: Stripe validates them asynchronously
    deferred_funders: set[str] = field(default_factory=set)  # Stripe was unavailable: retry these
    failure_reasons: list[str] = field(default_factory=list)


@dataclass(eq=False)
class UsageReporter(TimedService):
    usage: UsageRepository
    batches: MeterBatchStore
    funders: FunderRepository
    meters: MeterGateway
    catalog: InitVar[CatalogConfig]
    _: KW_ONLY
    mode: MeterEventMode = "sync"
    finance: FinanceNotices | None = None

    def __post_init__(self, catalog: CatalogConfig) -> None:
        self._event_names = catalog.meter_event_names()
        self._periods = BillingPeriods(self.meters, self._now())

    def report_pending(self) -> ReportSummary:
        """The scheduled re-drive: every funder with records still pending (waiting for a subscription, or left by
        a failed attempt)."""
        return self.report_funders(self.usage.funders_with_pending())

    def report_funders(self, funder_ids: Iterable[str]) -> ReportSummary:
        """Report every pending record of these funders. Stripe being unavailable is not an error here: what
        could not be sent stays saved and pending, and its funders are named in `deferred_funders`."""
        self._periods = BillingPeriods(self.meters, self._now())  # period invoices are asked once per run
        summary = ReportSummary()
        planned: list[Planned] = []
        for funder_id in sorted(set(funder_ids)):
            planned.extend(self._plan(funder_id, summary))
        if self.mode == "stream":
            self._stream(planned, summary)
        else:
            self._send(planned, summary)
        return summary

    def _plan(self, funder_id: str, summary: ReportSummary) -> list[Planned]:
        """The funder's batches to send: open ones an earlier attempt left first, then new ones."""
        open_batches = self.batches.open_batches(funder_id)
        # Streamed batches wait for Stripe's verdict: their records are not read (they may be many).
        streamed = [batch for batch in open_batches if batch.status == "streamed"]
        summary.awaiting_validation += sum(len(batch.record_ids) for batch in streamed)
        taken = {usage_id for batch in streamed for usage_id in batch.record_ids}
        records = self.usage.pending(funder_id, exclude=taken)
        if not records:
            return []
        by_id = {record.usage_id: record for record in records}
        planned: list[Planned] = []
        now = self._now()
        for batch in open_batches:
            if batch.status == "streamed":
                continue
            taken.update(batch.record_ids)
            members = [by_id[i] for i in batch.record_ids if i in by_id]
            if batch.status == "sent":  # (batches saved by earlier releases) Stripe accepted it: finish marking
                self._settle_delivered(batch, members, summary)
            elif not members:  # its records were settled without it (refused): nothing left to send
                self.batches.mark_settled(batch.batch_id, "refused")
            elif now - batch.created_at > METER_EVENT_IDENTIFIER_WINDOW_SECONDS:
                summary.waiting += len(members)  # the reconciler checks Stripe's summaries before any re-send
                summary.failure_reasons.append(f"batch {batch.batch_id} is older than 24 h: left for reconciliation")
            else:
                planned.append((batch, members))

        funder = self.funders.get(funder_id)
        fresh = [record for record in records if record.usage_id not in taken]
        if funder is None or not fresh:
            summary.waiting += len(fresh)
            return planned
        groups = self._classify(funder, fresh, summary)
        for (kind, period_start), members in sorted(groups.items()):
            for chunk in _chunks(sorted(members, key=lambda r: r.usage_id), MAX_RECORDS_PER_BATCH):
                batch = self.batches.save(self._new_batch(funder, kind, period_start, chunk))
                planned.append((batch, chunk))
        return planned

    def _send(self, planned: list[Planned], summary: ReportSummary) -> None:
        """Synchronous validation: one request per batch; its records are reported once Stripe accepts it."""
        for position, (batch, members) in enumerate(planned):
            try:
                self.meters.send_meter_event(batch)
            except MeterEventRejected as rejected:
                for record in members:
                    self._fail(record, f"Stripe refused its meter event: {rejected}", summary)
                self.batches.mark_settled(batch.batch_id, "refused")
                continue
            except StripeUnavailable as error:
                self._defer(planned[position:], error, summary)
                return
            summary.sent_batches += 1
            # No "sent" mark: a crash before the batch settles re-sends it, which Stripe's identifier dedupe
            # makes harmless for 24 h; after that the reconciler asks the meter summaries instead.
            self._settle_delivered(batch, members, summary, sent_at=self._now())

    def _stream(self, planned: list[Planned], summary: ReportSummary) -> None:
        """Asynchronous validation: 100 batches per request; their records wait for the batch's settlement."""
        for start in range(0, len(planned), METER_EVENT_STREAM_MAX_EVENTS):
            chunk = planned[start : start + METER_EVENT_STREAM_MAX_EVENTS]
            try:
                self.meters.stream_meter_events([batch for batch, _ in chunk])
            except StripeUnavailable as error:
                self._defer(planned[start:], error, summary)
                return
            now = self._now()
            for batch, members in chunk:
                self.batches.mark_streamed(batch.batch_id, at=now)
                summary.streamed_batches += 1
                summary.awaiting_validation += len(members)

    def _defer(self, planned: list[Planned], error: StripeUnavailable, summary: ReportSummary) -> None:
        """Stripe is down or throttling: stop calling it; the saved batches are re-sent by the next attempt."""
        for batch, members in planned:
            summary.deferred_funders.add(batch.funder_id)
            summary.waiting += len(members)
        summary.failure_reasons.append(f"{len(planned)} batches deferred: {error.message}")

    def _classify(
        self, funder: Funder, records: list[UsageRecord], summary: ReportSummary
    ) -> dict[tuple[UsageKind, int], list[UsageRecord]]:
        """Settle what can never be billed; group the rest per kind and billing period."""
        now = self._now()
        subscription = funder.subscription
        groups: dict[tuple[UsageKind, int], list[UsageRecord]] = defaultdict(list)
        unbillable: dict[tuple[UsageKind, str], list[UsageRecord]] = defaultdict(list)
        for record in records:
            occurred = _epoch(record.occurred_at)
            if funder.stripe_customer_deleted:
                self._fail(record, "the funder's Stripe customer was deleted", summary)
            elif funder.stripe_customer_id is None or subscription is None or subscription.stripe_created is None:
                summary.waiting += 1  # billed once the funder has a customer and a subscription
            elif occurred < subscription.stripe_created:
                unbillable[(record.kind, "it occurred before the subscription started")].append(record)
            elif (ended := ended_at(subscription)) is not None and occurred >= ended:
                unbillable[(record.kind, AFTER_CANCELED)].append(record)
            elif subscription.item(record.kind) is None:
                unbillable[(record.kind, f"the subscription has no {record.kind} item")].append(record)
            elif now - occurred > METER_EVENT_MAX_AGE_SECONDS:
                self._fail(record, "it is older than Stripe accepts meter events (35 days)", summary)
            else:
                try:
                    placement = self._periods.place(subscription, occurred)
                except StripeUnavailable as error:
                    self._wait_for_stripe(funder, error, summary)
                    continue
                if placement.period_start is None:
                    unbillable[(record.kind, placement.reason)].append(record)
                else:
                    groups[(record.kind, placement.period_start)].append(record)
        for (kind, reason), members in sorted(unbillable.items()):
            self._unbillable(funder, kind, reason, members, summary)
        return groups

    def _wait_for_stripe(self, funder: Funder, error: StripeUnavailable, summary: ReportSummary) -> None:
        """Its period's invoice could not be read: the record stays pending, and the funder is retried."""
        summary.waiting += 1
        if funder.funder_id not in summary.deferred_funders:
            summary.deferred_funders.add(funder.funder_id)
            summary.failure_reasons.append(f"{funder.funder_id}: billing period invoice not read: {error.message}")

    def _new_batch(self, funder: Funder, kind: UsageKind, period_start: int, members: list[UsageRecord]) -> MeterBatch:
        record_ids = sorted(record.usage_id for record in members)
        digest = hashlib.sha256("\x1f".join([funder.funder_id, kind, str(period_start), *record_ids]).encode())
        batch_id = digest.hexdigest()[:40]
        assert funder.stripe_customer_id is not None
        return MeterBatch(
            batch_id=batch_id,
            funder_id=funder.funder_id,
            kind=kind,
            customer_id=funder.stripe_customer_id,
            event_name=self._event_names[kind],
            value=sum(record.quantity for record in members),
            timestamp=max(_epoch(record.occurred_at) for record in members),
            record_ids=record_ids,
            identifier=f"{IDENTIFIER_PREFIX}{batch_id}",
            created_at=self._now(),
        )

    def _settle_delivered(
        self, batch: MeterBatch, members: list[UsageRecord], summary: ReportSummary, *, sent_at: int | None = None
    ) -> None:
        for record in members:
            self.usage.settle(record, "reported", batch_id=batch.batch_id)
            summary.reported += 1
        self.batches.mark_settled(batch.batch_id, "delivered", sent_at=sent_at)

    def _unbillable(
        self, funder: Funder, kind: UsageKind, reason: str, members: list[UsageRecord], summary: ReportSummary
    ) -> None:
        """Kept, never billed, and shown to Finance: told first, so a failed notice is retried with the records."""
        if self.finance is not None:
            try:
                self.finance.notify(finance_messages.usage_unbillable(funder, kind, reason, members))
            except Exception as error:
                summary.waiting += len(members)
                summary.failure_reasons.append(f"unbillable notice for {funder.funder_id} not sent yet: {error}")
                return
        for record in members:
            self.usage.settle(record, "unbillable", reason=reason)
            summary.unbillable += 1

    def _fail(self, record: UsageRecord, reason: str, summary: ReportSummary) -> None:
        self.usage.settle(record, "failed", reason=reason)
        summary.failed += 1
        summary.failure_reasons.append(f"{record.funder_id}/{record.usage_id}: {reason}")

    def _now(self) -> int:
        return int(self.clock().timestamp())


# A meter event's identifier names its batch, so an error report's samples lead back to the records.
IDENTIFIER_PREFIX = "incytes-usage-"
AFTER_CANCELED = "it occurred after the subscription was canceled"


@dataclass(frozen=True)
class Placement:
    """Where usage of a moment is billed: the start of its billing period, or why Stripe never will bill it."""

    period_start: int | None
    reason: str = ""


class BillingPeriods:
    """The billing period usage of a moment falls in, and whether Stripe will still invoice it.

    Usage of the current period is billed at its end. Usage of a period that has ended (the one before the
    current one, or a canceled subscription's last one) counts only if its meter event reaches Stripe while that
    period's invoice is still a draft: Stripe finalizes it an hour after `invoice.created` was delivered (up to
    72 h; configurable per account; the draft's `automatically_finalizes_at`) with the usage it has by then
    (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period,
    https://docs.stripe.com/invoicing/integration/workflow-transitions). So that invoice decides, not the clock;
    it is asked of Stripe at most once per subscription and period by one instance (one per run).
    """

    def __init__(self, meters: MeterGateway, now: int) -> None:
        self._meters = meters
        self._now = now
        self._invoices: dict[tuple[str, int], PeriodInvoice | StripeUnavailable | None] = {}

    def place(self, subscription: FunderSubscription, occurred: int) -> Placement:
        """Raises StripeUnavailable when the invoice that decides could not be read (ask again later)."""
        current_start = subscription.current_period_start or subscription.stripe_created or 0
        ended = ended_at(subscription)
        if ended is not None and occurred >= ended:
            return Placement(None, AFTER_CANCELED)
        if occurred >= current_start:
            if ended is None:
                return Placement(current_start)
            # The last period of a canceled subscription: billed by its final invoice.
            return self._by_invoice(subscription.subscription_id, ended, current_start, occurred)
        return self._by_invoice(subscription.subscription_id, current_start, None, occurred)

    def _by_invoice(self, subscription_id: str, period_end: int, period_start: int | None, occurred: int) -> Placement:
        invoice = self._invoice(subscription_id, period_end)
        if invoice is None:
            return Placement(
                None, f"Stripe has no invoice for its billing period (ended {finance_messages.moment_text(period_end)})"
            )
        start = invoice.period_start if period_start is None else period_start
        if occurred < start:  # an older period still: invoiced before this one began
            return Placement(None, ALREADY_INVOICED)
        if invoice.status != "draft":
            return Placement(None, f"{ALREADY_INVOICED} (invoice {invoice.invoice_id} is {invoice.status})")
        finalizes = invoice.automatically_finalizes_at
        if finalizes is not None and self._now > finalizes - FINALIZATION_MARGIN_SECONDS:
            return Placement(
                None,
                f"its billing period's invoice {invoice.invoice_id} is finalized at "
                f"{finance_messages.moment_text(finalizes)}, too soon for late usage to count",
            )
        return Placement(start)

    def _invoice(self, subscription_id: str, period_end: int) -> PeriodInvoice | None:
        key = (subscription_id, period_end)
        if key not in self._invoices:
            try:
                self._invoices[key] = self._meters.period_invoice(subscription_id, period_end)
            except StripeUnavailable as error:
                self._invoices[key] = error  # not asked again in this run
        found = self._invoices[key]
        if isinstance(found, StripeUnavailable):
            raise found
        return found


def ended_at(subscription: FunderSubscription) -> int | None:
    """When a subscription that is no longer live stopped billing: its period's end for a cancellation at period
    end (Stripe's `canceled_at` is then when it was asked for), else when it was canceled. None while live."""
    if subscription.is_live:
        return None
    if subscription.cancel_at_period_end and subscription.current_period_end is not None:
        return subscription.current_period_end
    return subscription.canceled_at


def batch_id_of(identifier: str) -> str | None:
    return identifier.removeprefix(IDENTIFIER_PREFIX) if identifier.startswith(IDENTIFIER_PREFIX) else None


def _chunks[T](items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def _epoch(utc_text: str) -> int:
    return int(datetime.fromisoformat(utc_text.replace("Z", "+00:00")).timestamp())
