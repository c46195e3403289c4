"""Webhook ingress: store the verified event durably, hand it on, acknowledge. No Stripe call on this path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from incytes_billing.models.events import VerifiedEvent
from incytes_billing.ports import EventQueue, StripeEventStore

Receipt = Literal["stored", "duplicate"]


class WebhookIngress:
    def __init__(
        self,
        events: StripeEventStore,
        queue: EventQueue,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._events = events
        self._queue = queue
        self._clock = clock

    def accept(self, event: VerifiedEvent) -> Receipt:
        """Durable first, then queued. A redelivery of an event not yet processed is queued again: the
        first hand-off may have failed after the write (processing is idempotent, so twice is harmless)."""
        if self._events.insert(event, received_at=int(self._clock().timestamp())):
            self._queue.enqueue(event.event_id)
            return "stored"
        if self._events.status(event.event_id) == "received":
            self._queue.enqueue(event.event_id)
        return "duplicate"
