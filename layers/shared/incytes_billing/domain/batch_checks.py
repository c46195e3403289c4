"""Settling meter batches whose fate only Stripe's meter summaries can tell, before anything is re-sent:

- batches streamed (v2 meter event stream, validated asynchronously) that no error report named;
- batches saved more than 24 h ago and never known to be sent (Stripe's identifier dedupe is only
  guaranteed for 24 h, so a blind re-send could bill them twice).

Every event of a customer on a meter comes from one of our batches, so a summary over a window must equal
what our batches in that window that Stripe counted add up to. The check reads our batches in the window
(UsageBatchesTable's by_meter_time index), asks Stripe for the window's total (one request), and if the
unknown batches are all counted, or none, settles them; otherwise it narrows to single minutes (summaries
need minute-aligned bounds), where one combination of batches must explain the total, or the window is
left pending and told to Finance. Counted batches: records `reported`. Streamed and still not counted an
hour later: refused, records `failed`. Saved and not counted: re-sent (synchronously) while still billable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from incytes_billing.domain.clock import Clock, utc_now
from incytes_billing.domain.reporting import BillingPeriods
from incytes_billing.domain.stripe_limits import METER_EVENT_IDENTIFIER_WINDOW_SECONDS, METER_EVENT_MAX_AGE_SECONDS
from incytes_billing.errors import MeterEventRejected
from incytes_billing.models.usage import MeterBatch, UsageRecord
from incytes_billing.ports import FunderRepository, MeterBatchStore, MeterGateway, MeterSummaryGateway, UsageRepository

# Stripe aggregates meter events asynchronously: a batch younger than this is not judged yet.
SUMMARY_LAG_SECONDS = 15 * 60
# A streamed event still not counted this long after it was sent was refused (its error report named others).
STREAM_VERDICT_SECONDS = 3600
# Re-sending keeps this margin inside Stripe's 35-day window.
RESEND_MARGIN_SECONDS = 600
MINUTE = 60
MAX_COMBINATION_BATCHES = 12  # 4,096 combinations at most per minute


@dataclass(frozen=True)
class MeterWindow:
    """One customer on one meter over [start, end): what a single summary request answers."""

    customer_id: str
    event_name: str
    start: int
    end: int


@dataclass(frozen=True)
class UnattributedWindow:
    """A window whose summary no single set of our unconfirmed batches there adds up to."""

    window: MeterWindow
    stripe_found: int  # what the summary holds beyond the batches known delivered
    batch_ids: list[str]


@dataclass
class BatchCheckReport:
    confirmed: int = 0  # batches found counted: their records reported
    refused: int = 0  # streamed batches never counted: their records failed
    resent: int = 0  # stale batches Stripe never had: sent again
    failed_records: int = 0
    waiting: int = 0  # batches too young to judge, or not attributable (see unattributed)
    unattributed: list[UnattributedWindow] = field(default_factory=list)  # told to Finance


@dataclass(kw_only=True, eq=False)
class BatchChecker:
    usage: UsageRepository
    batches: MeterBatchStore
    funders: FunderRepository
    meters: MeterGateway
    summaries: MeterSummaryGateway
    clock: Clock = utc_now

    def check_funder(self, funder_id: str, report: BatchCheckReport) -> None:
        now = self._now()
        groups: dict[tuple[str, str], list[MeterBatch]] = defaultdict(list)
        for batch in self.batches.open_batches(funder_id):
            if batch.in_flight:
                if self._judgeable(batch, now):
                    groups[(batch.customer_id, batch.event_name)].append(batch)
                elif batch.status == "streamed":
                    report.waiting += 1
        for (customer_id, event_name), batches in sorted(groups.items()):
            start = min(b.timestamp for b in batches) // MINUTE * MINUTE
            end = max(b.timestamp for b in batches) // MINUTE * MINUTE + MINUTE
            self._check_window(MeterWindow(customer_id, event_name, start, end), now, report)

    def _judgeable(self, batch: MeterBatch, now: int) -> bool:
        if batch.status == "streamed":
            return batch.sent_at is not None and now - batch.sent_at >= SUMMARY_LAG_SECONDS
        return batch.status == "saved" and now - batch.created_at > METER_EVENT_IDENTIFIER_WINDOW_SECONDS

    def _check_window(self, window: MeterWindow, now: int, report: BatchCheckReport) -> None:
        siblings = self.batches.in_meter_window(window.customer_id, window.event_name, window.start, window.end)
        unknown = [b for b in siblings if b.in_flight]
        if not unknown:
            return
        # Sent within the summaries' lag (ours in flight, or just delivered): Stripe may not count them yet.
        recent = any(b.delivered and now - (b.sent_at or 0) < SUMMARY_LAG_SECONDS for b in siblings)
        if recent or any(not self._judgeable(b, now) for b in unknown):
            if window.end - window.start > MINUTE:
                self._by_minute(window, unknown, now, report)
            else:
                report.waiting += sum(1 for b in unknown if self._judgeable(b, now))
            return
        counted = self.summaries.meter_total(window.event_name, window.customer_id, window.start, window.end)
        found = counted - sum(b.value for b in siblings if b.delivered)
        if found == sum(b.value for b in unknown):
            self._settle(unknown, [], now, report)
        elif found == 0:
            self._settle([], unknown, now, report)
        elif window.end - window.start > MINUTE:
            self._by_minute(window, unknown, now, report)
        else:
            chosen = _only_combination(unknown, found)
            if chosen is None:
                report.waiting += len(unknown)
                report.unattributed.append(UnattributedWindow(window, found, sorted(b.batch_id for b in unknown)))
                return
            self._settle(chosen, [b for b in unknown if b not in chosen], now, report)

    def _by_minute(
        self, window: MeterWindow, batches: Iterable[MeterBatch], now: int, report: BatchCheckReport
    ) -> None:
        for minute in sorted({b.timestamp // MINUTE * MINUTE for b in batches if self._judgeable(b, now)}):
            self._check_window(MeterWindow(window.customer_id, window.event_name, minute, minute + MINUTE), now, report)

    def _settle(self, counted: list[MeterBatch], missing: list[MeterBatch], now: int, report: BatchCheckReport) -> None:
        for batch in counted:
            self._confirm(batch, report)
        for batch in missing:
            if batch.status == "streamed":
                if batch.sent_at is not None and now - batch.sent_at < STREAM_VERDICT_SECONDS:
                    report.waiting += 1  # not counted yet; judged again on the next run
                    continue
                self._refuse(batch, "Stripe never counted its streamed meter event (refused asynchronously)", report)
            else:
                self._resend(batch, now, report)

    def _confirm(self, batch: MeterBatch, report: BatchCheckReport, *, sent_at: int | None = None) -> None:
        for record in self._pending_records(batch):
            self.usage.settle(record, "reported", batch_id=batch.batch_id)
        self.batches.mark_settled(batch.batch_id, "delivered", sent_at=sent_at)
        report.confirmed += 1

    def _resend(self, batch: MeterBatch, now: int, report: BatchCheckReport) -> None:
        """A batch saved over 24 h ago that Stripe does not have: send it again, if it can still be billed."""
        if now - batch.timestamp > METER_EVENT_MAX_AGE_SECONDS - RESEND_MARGIN_SECONDS:
            self._refuse(batch, "it is older than Stripe accepts meter events (35 days)", report)
            return
        if not self._still_billable(batch, now):
            self._refuse(batch, "its billing period was invoiced before its meter event reached Stripe", report)
            return
        try:
            self.meters.send_meter_event(batch)
        except MeterEventRejected as rejected:
            self._refuse(batch, f"Stripe refused its meter event: {rejected}", report)
            return
        report.resent += 1
        self._confirm(batch, report, sent_at=now)

    def _still_billable(self, batch: MeterBatch, now: int) -> bool:
        """The reporter's rule: its period is the current one, or an ended one whose invoice is still a draft."""
        funder = self.funders.get(batch.funder_id)
        subscription = funder.subscription if funder is not None else None
        if subscription is None or subscription.current_period_start is None:
            return False
        return BillingPeriods(self.meters, now).place(subscription, batch.timestamp).period_start is not None

    def _refuse(self, batch: MeterBatch, reason: str, report: BatchCheckReport) -> None:
        for record in self._pending_records(batch):
            self.usage.settle(record, "failed", reason=reason, batch_id=batch.batch_id)
            report.failed_records += 1
        self.batches.mark_settled(batch.batch_id, "refused")
        report.refused += 1

    def _pending_records(self, batch: MeterBatch) -> list[UsageRecord]:
        return [r for r in self.usage.get_many(batch.funder_id, batch.record_ids) if r.status == "pending"]

    def _now(self) -> int:
        return int(self.clock().timestamp())


def _only_combination(batches: list[MeterBatch], total: int) -> list[MeterBatch] | None:
    """The one set of batches whose values add up to what Stripe counted; None if none or several do."""
    if len(batches) > MAX_COMBINATION_BATCHES:
        return None
    found: list[MeterBatch] | None = None
    for size in range(1, len(batches)):
        for combination in combinations(batches, size):
            if sum(b.value for b in combination) == total:
                if found is not None:
                    return None
                found = list(combination)
    return found
