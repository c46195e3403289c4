"""Reporting the usage ledger to Stripe meters: aggregated per funder, kind and billing period, exactly once.

Order of writes, so that any crash is recovered without loss or double billing:
1. the batch (its record ids, total and meter-event identifier) is saved, open;
2. the meter event is sent (Stripe dedupes its identifier: "already exists" means delivered);
3. the batch is marked sent, each record `reported` (with the batch id), then the batch settled.
A retry first finishes the funder's open batches, re-sending *their* identifier, and leaves their records out
of any new batch. Two DynamoDB writes per record (recorded, then settled); batches add a few per event.
One reporter runs at a time (reserved concurrency 1), so two batches never take the same record.
A batch saved more than 24 h ago is not re-sent blindly (Stripe's dedupe is only guaranteed for 24 h): it is
left for the reconciler, which checks the meter summaries first.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incytes_billing.errors import MeterEventRejected
from incytes_billing.models.catalog import CatalogConfig
from incytes_billing.models.funder import Funder
from incytes_billing.models.usage import MeterBatch, UsageKind, UsageRecord
from incytes_billing.ports import FunderRepository, MeterBatchStore, MeterGateway, UsageRepository

STRIPE_DEDUPE_SECONDS = 24 * 3600
OLDEST_ACCEPTED_SECONDS = 35 * 24 * 3600
# Usage may still land in the previous period while its invoice is being finalized (Stripe's grace period).
FINALIZATION_GRACE_SECONDS = 3600


@dataclass
class ReportSummary:
    sent_batches: int = 0
    reported: int = 0
    unbillable: int = 0
    failed: int = 0
    waiting: int = 0  # no customer or subscription yet, or a batch left for the reconciler
    failure_reasons: list[str] = field(default_factory=list)


class UsageReporter:
    def __init__(
        self,
        usage: UsageRepository,
        batches: MeterBatchStore,
        funders: FunderRepository,
        meters: MeterGateway,
        catalog: CatalogConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._usage = usage
        self._batches = batches
        self._funders = funders
        self._meters = meters
        self._event_names = catalog.meter_event_names()
        self._clock = clock

    def report_funders(self, funder_ids: Iterable[str]) -> ReportSummary:
        summary = ReportSummary()
        for funder_id in sorted(set(funder_ids)):
            self.report_funder(funder_id, summary)
        return summary

    def report_funder(self, funder_id: str, summary: ReportSummary) -> None:
        records = self._usage.pending(funder_id)
        if not records:
            return
        # First finish what an earlier attempt started: its open batches, with their own identifiers.
        by_id = {record.usage_id: record for record in records}
        taken: set[str] = set()
        for batch in self._batches.open_batches(funder_id):
            taken.update(batch.record_ids)
            self._deliver(batch, [by_id[i] for i in batch.record_ids if i in by_id], summary)

        funder = self._funders.get(funder_id)
        fresh = [record for record in records if record.usage_id not in taken]
        if funder is None or not fresh:
            summary.waiting += len(fresh)
            return
        groups = self._classify(funder, fresh, summary)
        for (kind, period_start), members in sorted(groups.items()):
            batch = self._batches.save(self._new_batch(funder, kind, period_start, members))
            self._deliver(batch, members, summary)

    def _classify(
        self, funder: Funder, records: list[UsageRecord], summary: ReportSummary
    ) -> dict[tuple[UsageKind, int], list[UsageRecord]]:
        """Settle what can never be billed; group the rest per kind and billing period."""
        now = int(self._clock().timestamp())
        subscription = funder.subscription
        groups: dict[tuple[UsageKind, int], list[UsageRecord]] = defaultdict(list)
        for record in records:
            occurred = _epoch(record.occurred_at)
            if funder.stripe_customer_deleted:
                self._fail(record, "the funder's Stripe customer was deleted", summary)
            elif funder.stripe_customer_id is None or subscription is None or subscription.stripe_created is None:
                summary.waiting += 1  # billed once the funder has a customer and a subscription
            elif occurred < subscription.stripe_created:
                self._unbillable(record, "it occurred before the subscription started", summary)
            elif subscription.canceled_at is not None and occurred >= subscription.canceled_at:
                self._unbillable(record, "it occurred after the subscription was canceled", summary)
            elif subscription.item(record.kind) is None:
                self._unbillable(record, f"the subscription has no {record.kind} item", summary)
            elif now - occurred > OLDEST_ACCEPTED_SECONDS:
                self._fail(record, "it is older than Stripe accepts meter events (35 days)", summary)
            else:
                period_start = subscription.current_period_start or subscription.stripe_created
                if occurred < period_start - FINALIZATION_GRACE_SECONDS:
                    self._unbillable(record, "its billing period was already invoiced", summary)
                elif occurred < period_start:  # the previous period, still in its finalization grace
                    groups[(record.kind, period_start - 1)].append(record)
                else:
                    groups[(record.kind, period_start)].append(record)
        return groups

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
            identifier=f"incytes-usage-{batch_id}",
            created_at=int(self._clock().timestamp()),
        )

    def _deliver(self, batch: MeterBatch, members: list[UsageRecord], summary: ReportSummary) -> None:
        now = int(self._clock().timestamp())
        if batch.status != "sent":
            if now - batch.created_at > STRIPE_DEDUPE_SECONDS:
                summary.waiting += len(members)  # the reconciler checks Stripe's summaries before any re-send
                summary.failure_reasons.append(f"batch {batch.batch_id} is older than 24 h: left for reconciliation")
                return
            try:
                self._meters.send_meter_event(batch)
            except MeterEventRejected as rejected:
                for record in members:
                    self._fail(record, f"Stripe refused its meter event: {rejected}", summary)
                self._batches.mark_settled(batch.batch_id)
                return
            self._batches.mark_sent(batch.batch_id)
            summary.sent_batches += 1
        for record in members:
            self._usage.settle(record, "reported", batch_id=batch.batch_id)
            summary.reported += 1
        self._batches.mark_settled(batch.batch_id)

    def _unbillable(self, record: UsageRecord, reason: str, summary: ReportSummary) -> None:
        self._usage.settle(record, "unbillable", reason=reason)
        summary.unbillable += 1

    def _fail(self, record: UsageRecord, reason: str, summary: ReportSummary) -> None:
        self._usage.settle(record, "failed", reason=reason)
        summary.failed += 1
        summary.failure_reasons.append(f"{record.funder_id}/{record.usage_id}: {reason}")


def _epoch(utc_text: str) -> int:
    return int(datetime.fromisoformat(utc_text.replace("Z", "+00:00")).timestamp())
