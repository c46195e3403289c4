"""Stripe events as received on the webhook and kept in the StripeEventsTable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

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
class EventBridgeDelivery:
    """A Stripe event as EventBridge hands it over (https://docs.stripe.com/event-destinations/eventbridge): who put
    it on the bus (`source`: the partner event source, `aws.partner/stripe.com/<destination id>`), the AWS account
    of the bus, and the event itself (`detail`: the webhook body for snapshot payloads, the notification for thin)."""

    source: str
    account: str
    event: VerifiedEvent


# Set in the envelope kept instead of an event too large to store whole (see `envelope_of`).
PAYLOAD_OMITTED = "payload_omitted"
# What an envelope keeps of the event: enough to apply it once the rest is re-fetched from Stripe by its id.
ENVELOPE_FIELDS = ("id", "object", "type", "created", "livemode", "api_version", "request", "account")


def envelope_of(payload: str) -> str:
    """The event without its object's content: its envelope, data.object's `id` and `object` (what the object is,
    to re-fetch it), and PAYLOAD_OMITTED. A few hundred bytes whatever the event's size."""
    body: dict[str, Any] = json.loads(payload)
    data = body.get("data")
    snapshot = data.get("object") if isinstance(data, dict) else None
    kept = {name: snapshot[name] for name in ("id", "object") if name in snapshot} if isinstance(snapshot, dict) else {}
    envelope = {name: body[name] for name in ENVELOPE_FIELDS if name in body}
    return json.dumps({**envelope, "data": {"object": kept}, PAYLOAD_OMITTED: True})


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
