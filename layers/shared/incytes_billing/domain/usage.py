"""The usage ledger: record every case and SMS durably, once, before answering (no Stripe on this path)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from incytes_billing.domain.audit import AuditedService
from incytes_billing.domain.stripe_limits import METER_EVENT_MAX_AGE_SECONDS, METER_EVENT_MAX_AHEAD_SECONDS
from incytes_billing.errors import BillingError, FunderNotFound, UsageConflict, UsageOutOfWindow, ValidationFailed
from incytes_billing.models.usage import (
    USAGE_STATUSES,
    BatchUsageInput,
    UsageInput,
    UsageKind,
    UsageRecord,
    utc_text,
)
from incytes_billing.ports import FunderRepository, UsageRepository

Receipt = Literal["accepted", "duplicate"]
# Stripe accepts meter events from the past 35 days and at most 5 minutes ahead: usage outside is refused now.
OLDEST_ACCEPTED = timedelta(seconds=METER_EVENT_MAX_AGE_SECONDS)
NEWEST_ACCEPTED = timedelta(seconds=METER_EVENT_MAX_AHEAD_SECONDS)


@dataclass(eq=False)
class UsageLedger(AuditedService):
    usage: UsageRepository
    funders: FunderRepository

    def record(self, funder_id: str, usage: UsageInput) -> Receipt:
        """POST /funders/{funder_id}/usage: one record (audited when new; an identical replay is not)."""
        receipt = self._record(funder_id, usage, existing_funders=self.funders.existing([funder_id]))
        if receipt == "accepted":
            self.audit.record(funder_id, "usage.accepted", accepted=1, duplicate=0, rejected=0)
        return receipt

    def _record(self, funder_id: str, usage: UsageInput, *, existing_funders: set[str]) -> Receipt:
        now = self.clock()
        occurred = usage.occurred_at_utc()
        if not now - OLDEST_ACCEPTED <= occurred <= now + NEWEST_ACCEPTED:
            raise UsageOutOfWindow(
                f"occurred_at {usage.occurred_at.isoformat()} is outside what Stripe bills: "
                "from 35 days ago to 5 minutes ahead."
            )
        if funder_id not in existing_funders:
            raise FunderNotFound(funder_id)
        record = UsageRecord(
            funder_id=funder_id,
            usage_id=usage.usage_id,
            kind=usage.kind,
            quantity=usage.quantity,
            occurred_at=utc_text(occurred),
            recorded_at=utc_text(now),
        )
        if self.usage.insert(record):
            return "accepted"
        existing = self.usage.get(funder_id, usage.usage_id)
        if existing is not None and existing.same_payload(record):
            return "duplicate"
        raise UsageConflict(usage.usage_id)

    def record_batch(self, records: list[Any]) -> list[dict[str, Any]]:
        """One result per record, in order: accepted, duplicate, or rejected with the code and message. The
        funders the valid records name are looked up together, once."""
        results: list[dict[str, Any]] = []
        valid: list[tuple[dict[str, Any], BatchUsageInput]] = []
        for index, raw in enumerate(records):
            result: dict[str, Any] = {
                "index": index,
                "funder_id": raw.get("funder_id") if isinstance(raw, dict) else None,
                "usage_id": raw.get("usage_id") if isinstance(raw, dict) else None,
            }
            results.append(result)
            try:
                valid.append((result, BatchUsageInput.model_validate(raw)))
            except ValidationError as error:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in error.errors()[:3]
                )
                result.update(status="rejected", error={"code": "validation_error", "message": problems})
        existing_funders = self.funders.existing({usage.funder_id for _, usage in valid}) if valid else set()
        for result, usage in valid:
            try:
                result["status"] = self._record(usage.funder_id, usage, existing_funders=existing_funders)
            except BillingError as error:
                result.update(status="rejected", error={"code": error.code, "message": error.message})
        self._audit_batch(results)
        return results

    def _audit_batch(self, results: list[dict[str, Any]]) -> None:
        """One entry per funder that had new records in the request, with its counts (not one per record):
        a replayed batch, all duplicates, records nothing."""
        counts: dict[str, dict[str, int]] = {}
        for result in results:
            funder_id = result["funder_id"]
            if isinstance(funder_id, str):
                tally = counts.setdefault(funder_id, {"accepted": 0, "duplicate": 0, "rejected": 0})
                tally[result["status"]] += 1
        for funder_id, tally in counts.items():
            if tally["accepted"]:
                self.audit.record(funder_id, "usage.accepted", **tally)

    def totals(self, funder_id: str, start: datetime | None, end: datetime | None) -> dict[str, Any]:
        if start is not None and end is not None and start > end:  # an empty range is a caller's mistake
            problem = f"must not be after to ({end.isoformat()})"
            raise ValidationFailed(
                f"The request is invalid: from: {problem}.",
                details=[{"location": "query", "field": "from", "message": problem, "type": "date_range"}],
            )
        if not self.funders.existing([funder_id]):
            raise FunderNotFound(funder_id)
        low = utc_text(start) if start else "0000"
        high = utc_text(end) if end else "9999"
        kinds: tuple[UsageKind, ...] = ("case", "sms")
        totals = {kind: {"recorded": 0, **dict.fromkeys(USAGE_STATUSES, 0)} for kind in kinds}
        for record in self.usage.between(funder_id, low, high):
            totals[record.kind]["recorded"] += record.quantity
            totals[record.kind][record.status] += record.quantity
        return {
            "funder_id": funder_id,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "totals": totals,
        }
