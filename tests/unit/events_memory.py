"""In-memory StripeEventStore and EventQueue for the unit suites, with the DynamoDB adapter's conditions."""

from __future__ import annotations

from dataclasses import replace

from incytes_billing.models.events import EventStatus, StoredEvent, VerifiedEvent


class MemoryEventStore:
    def __init__(self) -> None:
        self.events: dict[str, StoredEvent] = {}
        self.requeue_after: dict[str, int] = {}

    def insert(self, event: VerifiedEvent, *, received_at: int) -> bool:
        if event.event_id in self.events:
            return False
        self.events[event.event_id] = StoredEvent(
            event.event_id, event.type, event.created, event.kind, "received", event.payload
        )
        return True

    def claim_requeue(self, event_id: str, *, now: int, until: int) -> bool:
        stored = self.events.get(event_id)
        if stored is None or stored.status != "received" or self.requeue_after.get(event_id, now) > now:
            return False
        self.requeue_after[event_id] = until
        return True

    def hold_requeue(self, event_id: str, *, until: int) -> None:
        if event_id in self.events:
            self.requeue_after[event_id] = until

    def get(self, event_id: str) -> StoredEvent | None:
        return self.events.get(event_id)

    def mark(self, event_id: str, status: EventStatus) -> None:
        if self.events[event_id].status == "received":
            self.events[event_id] = replace(self.events[event_id], status=status)


class MemoryQueue:
    def __init__(self) -> None:
        self.queued: list[str] = []
        self.down = False

    def enqueue(self, event_id: str) -> None:
        if self.down:
            raise ConnectionError("SQS is unreachable")
        self.queued.append(event_id)
