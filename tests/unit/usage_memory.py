"""In-memory ports of usage reporting for the unit suites: the ledger, the batch store, Stripe's meters (and the
invoices of ended periods) and Finance's topic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.models.events import FinanceNotice
from incytes_billing.models.notifications import ClaimOutcome
from incytes_billing.models.stripe import PeriodInvoice
from incytes_billing.models.usage import BatchOutcome, MeterBatch, UsageRecord, UsageStatus, utc_text

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PERIOD_START = int((NOW - timedelta(days=10)).timestamp())
SUBSCRIBED_AT = int((NOW - timedelta(days=40)).timestamp())


class Clock:
    """A clock tests move by hand: starts at NOW."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


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


class MemoryUsage:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], UsageRecord] = {}
        self.writes = 0

    def add(self, funder_id: str, usage_id: str, kind: str, quantity: int, occurred: datetime) -> None:
        self.records[(funder_id, usage_id)] = UsageRecord(
            funder_id=funder_id,
            usage_id=usage_id,
            kind=kind,  # type: ignore[arg-type]
            quantity=quantity,
            occurred_at=utc_text(occurred),
            recorded_at=utc_text(NOW),
        )

    def pending(self, funder_id: str, *, exclude: set[str] | frozenset[str] = frozenset()) -> list[UsageRecord]:
        return [
            r
            for (f, u), r in sorted(self.records.items())
            if f == funder_id and r.status == "pending" and u not in exclude
        ]

    def get_many(self, funder_id: str, usage_ids: list[str]) -> list[UsageRecord]:
        return [self.records[(funder_id, u)] for u in usage_ids if (funder_id, u) in self.records]

    def settle(
        self,
        record: UsageRecord,
        status: UsageStatus,
        *,
        reason: str | None = None,
        batch_id: str | None = None,
        expected: tuple[UsageStatus, ...] = ("pending",),
    ) -> None:
        key = (record.funder_id, record.usage_id)
        if self.records[key].status in expected:
            update = {"status": status, "reason": reason, "batch_id": batch_id}
            self.records[key] = self.records[key].model_copy(update=update)
            self.writes += 1

    def status(self, usage_id: str) -> tuple[str, str | None]:
        record = next(r for (_, u), r in self.records.items() if u == usage_id)
        return record.status, record.reason


class MemoryBatches:
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


class MemoryMeters:
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


class MemoryFinance:
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
