"""The scheduled reconciler: settles meter batches only Stripe's summaries can tell about (domain.batch_checks),
compares what our batches delivered with Stripe's meter summaries for each funder's current period (and the
previous one while late usage reaches it), and replays Stripe events that never reached our webhook into the
same pipeline (stored, then processed, duplicates harmless)."""

from __future__ import annotations

import json
from dataclasses import InitVar, dataclass, field
from typing import Any

from incytes_billing.domain import finance_messages
from incytes_billing.domain.batch_checks import (
    SUMMARY_LAG_SECONDS,
    BatchChecker,
    BatchCheckReport,
    MeterWindow,
    UnattributedWindow,
)
from incytes_billing.domain.clock import Clock, utc_now
from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.domain.stripe_limits import (
    FINALIZATION_MAX_DELAY_SECONDS,
    METER_EVENT_MAX_AGE_SECONDS,
    WEBHOOK_RETRY_SECONDS,
)
from incytes_billing.domain.webhooks import Receipt, WebhookIngress, with_current_object
from incytes_billing.errors import StripeUnavailable
from incytes_billing.models.catalog import CatalogConfig
from incytes_billing.models.events import VerifiedEvent
from incytes_billing.models.funder import Funder
from incytes_billing.models.usage import MeterBatch
from incytes_billing.ports import FunderRepository, MeterBatchStore, MeterSummaryGateway, UndeliveredEvents

# Late usage reaches the previous period only while its invoice is a draft: at most 72 h after it ended
# (Stripe's longest finalization grace). The previous period is compared for a day beyond that, then no more.
PREVIOUS_PERIOD_CHECK_SECONDS = FINALIZATION_MAX_DELAY_SECONDS + 24 * 3600


@dataclass(frozen=True, slots=True)
class FailedReplay:
    """An undelivered event the replay could not store: tried again on the next run (within the window)."""

    event_id: str
    type: str
    error: str


@dataclass
class ReplayOutcome:
    replayed: int = 0
    failed: list[FailedReplay] = field(default_factory=list)


@dataclass
class ReconciliationReport:
    compared: int = 0
    discrepancies: list[dict[str, object]] = field(default_factory=list)
    replay: ReplayOutcome = field(default_factory=ReplayOutcome)
    batches: BatchCheckReport = field(default_factory=BatchCheckReport)
    not_compared: int = 0  # funders left for a later run: this one reached its deadline (or Stripe failed)


@dataclass(kw_only=True, eq=False)
class Reconciler:
    batches: MeterBatchStore
    checker: BatchChecker
    funders: FunderRepository
    meters: MeterSummaryGateway
    undelivered: UndeliveredEvents
    ingress: WebhookIngress
    finance: FinanceNotices
    catalog: InitVar[CatalogConfig]
    clock: Clock = utc_now

    def __post_init__(self, catalog: CatalogConfig) -> None:
        self._event_names = catalog.meter_event_names()

    def run(self, funder_ids: list[str]) -> ReconciliationReport:
        """Undelivered events first (one list, whatever the number of funders), then each funder's batches and
        meters until done or out of time (docs/capacity.md): the funders are taken from an offset that moves with
        the hour, so that a run cut short leaves different funders each time and every one is reached daily."""
        report = ReconciliationReport()
        report.replay = self.replay_undelivered()
        ordered = run_order(funder_ids, int(self.clock().timestamp()) // 3600)
        for done, funder_id in enumerate(ordered):
            try:
                self.checker.check_funder(funder_id, report.batches)
                self.compare_funder(funder_id, report)
            except StripeUnavailable:
                report.not_compared = len(ordered) - done
                break
        for window in report.batches.unattributed:
            self._tell_unattributed(window)
        return report

    def compare_funder(self, funder_id: str, report: ReconciliationReport) -> None:
        """Our batches against Stripe's summaries, per meter, in every period that still has recent usage: the
        current one, and the previous one while usage sent since it ended (late usage) may have reached it.

        What Stripe counted must lie between what our batches surely delivered (sent before the summaries'
        lag) and that plus what may be in flight (saved, streamed, or sent within the lag)."""
        funder = self.funders.get(funder_id)
        subscription = funder.subscription if funder is not None else None
        if funder is None or funder.stripe_customer_id is None or subscription is None:
            return
        if subscription.current_period_start is None:
            return
        now = int(self.clock().timestamp())
        start = subscription.current_period_start // 60 * 60  # summaries need minute-aligned bounds
        # (start, end, compared only if a batch reached it since): the current period, compared to the lag.
        windows: list[tuple[int, int, int | None]] = [(start, (now - SUMMARY_LAG_SECONDS) // 60 * 60, None)]
        if now - start <= PREVIOUS_PERIOD_CHECK_SECONDS:
            # The previous period, and anything older Stripe still accepts events for: every event there came
            # from our batches too. Compared when a batch reached it since the period's last comparison.
            windows.append((start - METER_EVENT_MAX_AGE_SECONDS, start, start - SUMMARY_LAG_SECONDS))
        for window_start, end, recent_since in windows:
            if end <= window_start:
                continue
            for kind, event_name in sorted(self._event_names.items()):
                window = MeterWindow(funder.stripe_customer_id, event_name, window_start, end)
                batches = self.batches.in_meter_window(window.customer_id, event_name, window_start, end)
                if recent_since is not None and not any(_touched(b) >= recent_since for b in batches):
                    continue  # nothing reached it since it was compared as the current period
                self._compare(funder, kind, window, batches, now=now, report=report)

    def _compare(
        self,
        funder: Funder,
        kind: str,
        window: MeterWindow,
        batches: list[MeterBatch],
        *,
        now: int,
        report: ReconciliationReport,
    ) -> None:
        funder_id, start, end = funder.funder_id, window.start, window.end
        # Delivered before the summaries' lag: Stripe must count it. Sent since, or in flight: it may.
        sure = {b.batch_id for b in batches if b.delivered and (b.sent_at or 0) <= now - SUMMARY_LAG_SECONDS}
        surely = sum(b.value for b in batches if b.batch_id in sure)
        maybe = sum(b.value for b in batches if b.batch_id not in sure and (b.delivered or b.in_flight))
        stripe = self.meters.meter_total(window.event_name, window.customer_id, start, end)
        report.compared += 1
        if surely <= stripe <= surely + maybe:
            return
        found = {"kind": kind, "ledger": surely, "in_flight": maybe, "stripe": stripe, "from": start, "to": end}
        report.discrepancies.append({"funder_id": funder_id, **found})
        self.finance.notify(
            finance_messages.usage_discrepancy(funder, kind, start, end, ledger=surely, in_flight=maybe, stripe=stripe)
        )

    def _tell_unattributed(self, found: UnattributedWindow) -> None:
        """Batches the summaries cannot tell apart: their records stay pending (visible) until Finance looks."""
        self.finance.notify(finance_messages.usage_unattributed(found))

    def replay_undelivered(self) -> ReplayOutcome:
        """Each event on its own: one that fails (Stripe unreachable for its object, a payload we cannot read)
        is counted and named, and the others are still replayed."""
        since = int(self.clock().timestamp()) - WEBHOOK_RETRY_SECONDS
        outcome = ReplayOutcome()
        for snapshot in self.undelivered.undelivered_events(since=since):
            body = json.loads(snapshot)
            try:
                if self._replay(body, snapshot) == "stored":
                    outcome.replayed += 1
            except Exception as error:  # reported in the outcome; the next run tries it again
                outcome.failed.append(FailedReplay(body["id"], body["type"], f"{type(error).__name__}: {error}"))
        return outcome

    def _replay(self, body: dict[str, Any], snapshot: str) -> Receipt:
        current = with_current_object(body, self.undelivered)  # else the snapshot, verbatim
        event = VerifiedEvent(
            event_id=body["id"],
            type=body["type"],
            created=int(body["created"]),
            kind="snapshot",
            livemode=bool(body.get("livemode", False)),
            api_version=body.get("api_version"),
            payload=snapshot if current is None else json.dumps(current),
        )
        return self.ingress.accept(event)


def _touched(batch: MeterBatch) -> int:
    """When the batch last reached (or may have reached) Stripe."""
    return max(batch.created_at, batch.sent_at or 0)


def run_order(funder_ids: list[str], hour: int) -> list[str]:
    """The funders from the hour's 24th of the list on, then the rest."""
    offset = (hour % 24) * len(funder_ids) // 24
    return funder_ids[offset:] + funder_ids[:offset]
