"""Webhook ingress: store the verified event durably, hand it on, acknowledge. No Stripe call on this path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from incytes_billing.domain.clock import TimedService

# Only in annotations: the webhook processor's handler reads MAX_RETRY_DELAY_SECONDS at init, and loads the event
# records and the ports with the processor, when the first message comes (issue 12 §1).
if TYPE_CHECKING:
    from incytes_billing.models.events import VerifiedEvent
    from incytes_billing.ports import CurrentObjects, EventQueue, StripeEventStore

Receipt = Literal["stored", "duplicate"]

# The longest a queued message stays out of sight: the processor defers a failing one by up to this (its
# backoff), beyond the queue's own 180 s VisibilityTimeout. Until then a repeat delivery queues nothing more.
MAX_RETRY_DELAY_SECONDS = 15 * 60
# How long a repeat delivery's claim to queue the event holds before the message is sent: well past the
# webhook function's 10 s timeout, so that a claim left by a crash soon stops blocking the next delivery.
REQUEUE_CLAIM_SECONDS = 30


@dataclass(eq=False)
class WebhookIngress(TimedService):
    events: StripeEventStore
    queue: EventQueue

    def accept(self, event: VerifiedEvent) -> Receipt:
        """Durable first, then queued: one message in flight per event. A repeat delivery of an event not yet
        processed is queued again only when no message was handed off for it (the first hand-off failed after
        the write) or the last one is older than MAX_RETRY_DELAY_SECONDS (lost, or dead-lettered: re-driven)."""
        now = int(self.clock().timestamp())
        if self.events.insert(event, received_at=now):
            self._hand_off(event.event_id, now)
            return "stored"
        if self.events.claim_requeue(event.event_id, now=now, until=now + REQUEUE_CLAIM_SECONDS):
            self._hand_off(event.event_id, now)
        return "duplicate"

    def _hand_off(self, event_id: str, now: int) -> None:
        try:
            self.queue.enqueue(event_id)
        except Exception:
            self.events.hold_requeue(event_id, until=now)  # not handed off: the next delivery queues it
            raise
        self.events.hold_requeue(event_id, until=now + MAX_RETRY_DELAY_SECONDS)


def with_current_object(event: dict[str, Any], objects: CurrentObjects) -> dict[str, Any] | None:
    """An event read back from Stripe's events API (events.list, events.retrieve) is rendered in the API version of
    its creation: the event with its object as Stripe has it now, in our pinned version, or None when that object
    cannot be re-fetched (no type or id, a type we do not re-fetch, or gone). Replayed and re-fetched events alike."""
    data = event.get("data")
    snapshot = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(data, dict) and isinstance(snapshot, dict) and snapshot.get("object") and snapshot.get("id")):
        return None
    current = objects.current_object(str(snapshot["object"]), str(snapshot["id"]))
    if current is None:
        return None
    return {**event, "data": {**data, "object": current}}
