"""Usage inCytes reports (cases opened, SMS sent), kept in the UsageTable ledger until billed through Stripe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from incytes_billing.models.common import FUNDER_ID_PATTERN, Rfc3339Time

UsageKind = Literal["case", "sms"]
UsageStatus = Literal["pending", "reported", "failed", "unbillable"]
USAGE_STATUSES: tuple[UsageStatus, ...] = ("pending", "reported", "failed", "unbillable")
MAX_USAGE_QUANTITY = 100_000  # per record; larger counts are reported as several records
MAX_BATCH_RECORDS = 100

UsageId = Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
FunderIdField = Annotated[StrictStr, StringConstraints(pattern=FUNDER_ID_PATTERN)]


class UsageInput(BaseModel):
    """One record of `POST /funders/{funder_id}/usage`; `occurred_at` is RFC 3339 with an offset."""

    model_config = ConfigDict(extra="forbid")

    usage_id: UsageId
    kind: UsageKind
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_USAGE_QUANTITY)]
    occurred_at: Rfc3339Time

    def occurred_at_utc(self) -> datetime:
        return self.occurred_at.astimezone(UTC)


class BatchUsageInput(UsageInput):
    funder_id: FunderIdField


class UsageBatchRequest(BaseModel):
    """Body of `POST /usage`: records are validated one by one, so one bad record does not sink the others."""

    model_config = ConfigDict(extra="forbid")

    records: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH_RECORDS)]


class UsageRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    funder_id: str
    usage_id: str
    kind: UsageKind
    quantity: int
    occurred_at: str  # UTC, ISO 8601 ("...Z"): sorts as text in the by_occurred_at index
    recorded_at: str
    status: UsageStatus = "pending"
    batch_id: str | None = None
    reason: str | None = None

    def same_payload(self, other: UsageRecord) -> bool:
        return (self.kind, self.quantity, self.occurred_at) == (other.kind, other.quantity, other.occurred_at)


# The statuses a record is settled from unless told otherwise: a record is settled once.
SETTLED_FROM: tuple[UsageStatus, ...] = ("pending",)


class Settlement(TypedDict, total=False):
    """How a record is settled (`UsageRepository.settle`): the reason it is unbillable or failed, the batch it was
    reported in, and the statuses it may be settled from (SETTLED_FROM when not given)."""

    reason: str | None
    batch_id: str | None
    expected: tuple[UsageStatus, ...]


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


BatchStatus = Literal["saved", "sent", "streamed", "settled"]
BatchOutcome = Literal["delivered", "refused"]


class MeterBatch(BaseModel):
    """One meter event's worth of usage: saved before Stripe is called, so a retry re-sends the same event.

    saved -> settled once Stripe answered and the records are marked (outcome delivered or refused), or
    saved -> streamed (the v2 stream took it; validated asynchronously) -> settled once confirmed or refused.
    `sent` (accepted, records not marked yet) is only found on batches saved by earlier releases.
    """

    model_config = ConfigDict(extra="ignore")

    batch_id: str
    funder_id: str
    kind: UsageKind
    customer_id: str
    event_name: str
    value: int
    timestamp: int  # inside the billing period: the latest occurred_at of its records
    record_ids: list[str]
    identifier: str  # Stripe dedupes meter events by identifier (for at least 24 h)
    created_at: int
    status: BatchStatus = "saved"
    outcome: BatchOutcome | None = None  # set when settled: did Stripe count it?
    sent_at: int | None = None  # when Stripe took it (accepted, or streamed)

    @property
    def meter_key(self) -> str:
        """What Stripe aggregates by: the customer on one meter (the UsageBatchesTable's by_meter_time index)."""
        return meter_key(self.customer_id, self.event_name)

    @property
    def delivered(self) -> bool:
        """Known to be counted by Stripe."""
        return self.status == "sent" or (self.status == "settled" and self.outcome != "refused")

    @property
    def in_flight(self) -> bool:
        """Maybe counted by Stripe, not known yet: saved (perhaps sent before a crash) or streamed."""
        return self.status in ("saved", "streamed")


def meter_key(customer_id: str, event_name: str) -> str:
    return f"{customer_id}#{event_name}"
