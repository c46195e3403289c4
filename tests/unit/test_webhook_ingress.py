"""WebhookIngress: one message in flight per event, however often Stripe (or the reconciler) delivers it, while a
hand-off that was lost is still re-driven by the next delivery (in-memory ports)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incytes_billing.domain.webhooks import MAX_RETRY_DELAY_SECONDS, REQUEUE_CLAIM_SECONDS, WebhookIngress
from incytes_billing.models.events import VerifiedEvent
from tests.fakes import NOW, Clock, MemoryEventStore, MemoryQueue

EVENT = VerifiedEvent("evt_1", "invoice.created", int(NOW.timestamp()), "snapshot", False, None, "{}")


@pytest.fixture
def events() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def ingress(events: MemoryEventStore, queue: MemoryQueue, clock: Clock) -> WebhookIngress:
    return WebhookIngress(events, queue, clock=clock)


def test_ten_deliveries_of_an_event_not_yet_applied_queue_one_message(
    ingress: WebhookIngress, queue: MemoryQueue, clock: Clock
) -> None:
    receipts = []
    for _ in range(10):
        receipts.append(ingress.accept(EVENT))
        clock.now += timedelta(seconds=30)  # Stripe's retries, or the reconciler's replay, minutes apart

    assert receipts == ["stored"] + ["duplicate"] * 9
    assert queue.queued == ["evt_1"]


def test_a_delivery_after_the_longest_retry_delay_queues_it_again(
    ingress: WebhookIngress, queue: MemoryQueue, clock: Clock
) -> None:
    """The message may have been lost or dead-lettered: a repeat delivery past the processor's longest backoff
    re-drives the event (once)."""
    ingress.accept(EVENT)
    clock.now += timedelta(seconds=MAX_RETRY_DELAY_SECONDS)
    ingress.accept(EVENT)
    ingress.accept(EVENT)

    assert queue.queued == ["evt_1", "evt_1"]


def test_a_hand_off_that_failed_is_queued_by_the_next_delivery(
    ingress: WebhookIngress, events: MemoryEventStore, queue: MemoryQueue
) -> None:
    queue.down = True
    with pytest.raises(ConnectionError):
        ingress.accept(EVENT)  # 5xx: Stripe delivers it again
    assert "evt_1" in events.events  # durable first

    queue.down = False
    assert ingress.accept(EVENT) == "duplicate"
    assert ingress.accept(EVENT) == "duplicate"
    assert queue.queued == ["evt_1"]


def test_a_claim_left_by_a_crashed_delivery_stops_blocking_soon(
    ingress: WebhookIngress, events: MemoryEventStore, queue: MemoryQueue, clock: Clock
) -> None:
    now = int(clock.now.timestamp())
    events.insert(EVENT, received_at=now)  # stored, then the function died before queueing
    assert events.claim_requeue("evt_1", now=now, until=now + REQUEUE_CLAIM_SECONDS)  # a retry claimed it, died

    ingress.accept(EVENT)
    assert queue.queued == []  # the claim may still be sending
    clock.now += timedelta(seconds=REQUEUE_CLAIM_SECONDS)
    ingress.accept(EVENT)
    assert queue.queued == ["evt_1"]


def test_an_applied_event_is_never_queued_again(
    ingress: WebhookIngress, events: MemoryEventStore, queue: MemoryQueue, clock: Clock
) -> None:
    ingress.accept(EVENT)
    events.mark("evt_1", "processed")
    clock.now += timedelta(days=1)
    assert ingress.accept(EVENT) == "duplicate"
    assert queue.queued == ["evt_1"]
