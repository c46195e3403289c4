"""Stripe events as received on the webhook and kept in the StripeEventsTable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventKind = Literal["snapshot", "thin"]
EventStatus = Literal["received", "processed", "ignored"]


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """A webhook delivery whose signature checked out: snapshot (`event`) or thin (`v2.core.event`)."""

    event_id: str
    type: str
    created: int
    kind: EventKind
    livemode: bool
    api_version: str | None
    payload: str  # the raw body, kept verbatim for processing and replay


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: str
    type: str
    created: int
    kind: EventKind
    status: EventStatus
    payload: str


@dataclass(frozen=True, slots=True)
class FinanceNotice:
    """One message to Finance's SNS topic."""

    key: str  # what makes it unique: sent once per key (claimed before publishing)
    event_type: str  # message attribute, for subscription filters
    subject: str  # under 100 characters (SNS limit for email subjects)
    text: str  # readable, for email
    data: dict[str, object]  # for machines
