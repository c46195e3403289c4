"""Stripe's asynchronous refusals of meter events (`v1.billing.meter.error_report_triggered`), applied to the
ledger: each sampled identifier names one of our batches, whose records become `failed` with Stripe's reason.

An error report carries counts and a few samples only, so some refusals cannot be attributed here; those
batches stay unconfirmed and the reconciler settles them against the meter summaries (domain.batch_checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from incytes_billing.domain.reporting import batch_id_of
from incytes_billing.models.stripe_events import MeterErrorReport
from incytes_billing.models.usage import MeterBatch, UsageStatus
from incytes_billing.ports import MeterBatchStore, ThinEventSource, UsageRepository

METER_ERROR_EVENTS = ("v1.billing.meter.error_report_triggered", "v1.billing.meter.no_meter_found")
SETTLEABLE: tuple[UsageStatus, ...] = ("pending", "reported")


@dataclass
class MeterErrorOutcome:
    refused_batches: int = 0
    failed_records: int = 0
    unattributed_errors: int = 0  # refusals without a sample naming one of our batches


@dataclass(eq=False)
class MeterErrorSettler:
    usage: UsageRepository
    batches: MeterBatchStore
    thin_events: ThinEventSource

    def apply_event(self, event_id: str) -> MeterErrorOutcome:
        """Fetch the thin event (its delivery carries no data) and apply it."""
        return self.apply(MeterErrorReport.model_validate(self.thin_events.fetch_thin_event(event_id)))

    def apply(self, report: MeterErrorReport) -> MeterErrorOutcome:
        outcome = MeterErrorOutcome()
        for error_type in report.error_types:
            attributed = 0
            for sample in error_type.sample_errors:
                batch_id = batch_id_of(sample.identifier or "")
                batch = self.batches.get(batch_id) if batch_id else None
                if batch is None:
                    continue  # not one of ours (or not saved by us): nothing to settle
                attributed += 1
                reason = f"Stripe refused its meter event asynchronously ({error_type.code}): {sample.error_message}"
                self._refuse(batch, reason, outcome)
            outcome.unattributed_errors += max(0, error_type.error_count - attributed)
        return outcome

    def _refuse(self, batch: MeterBatch, reason: str, outcome: MeterErrorOutcome) -> None:
        if batch.status == "settled" and batch.outcome == "refused":
            return  # the same report again
        for record in self.usage.get_many(batch.funder_id, batch.record_ids):
            if record.status == "pending" or (record.status == "reported" and record.batch_id == batch.batch_id):
                # A synchronously accepted event can still be refused later (the customer is checked
                # asynchronously): its records were reported, and are not billed after all.
                self.usage.settle(record, "failed", reason=reason, batch_id=batch.batch_id, expected=SETTLEABLE)
                outcome.failed_records += 1
        self.batches.mark_settled(batch.batch_id, "refused")
        outcome.refused_batches += 1
