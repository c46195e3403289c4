"""Reconciler.replay_undelivered: the event's object re-fetched when Stripe has it, the snapshot kept when not
(in-memory ports)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from incytes_billing.domain.reconciliation import FailedReplay, Reconciler
from incytes_billing.domain.webhooks import WebhookIngress
from incytes_billing.models.catalog import load_catalog
from tests.fakes import MemoryEventStore, MemoryQueue, MemoryUndelivered

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def event(event_id: str, obj: dict[str, Any]) -> str:
    body = {
        "id": event_id,
        "object": "event",
        "type": f"{obj.get('object', 'thing')}.updated",
        "created": int(NOW.timestamp()) - 60,
        "livemode": False,
        "api_version": "2025-03-31.basil",
        "data": {"object": obj},
    }
    return json.dumps(body)


def reconciler(undelivered: MemoryUndelivered, events: MemoryEventStore) -> Reconciler:
    unused = cast(Any, None)  # the usage comparison's ports: replay does not touch them
    return Reconciler(
        batches=unused,
        checker=unused,
        funders=unused,
        meters=unused,
        undelivered=undelivered,
        ingress=WebhookIngress(events, MemoryQueue(), clock=lambda: NOW),
        finance=unused,
        catalog=load_catalog(),
        clock=lambda: NOW,
    )


def test_replay_keeps_the_snapshot_when_stripe_has_no_current_object() -> None:
    snapshot = {"object": "customer", "id": "cus_Gone", "name": "Snapshot"}
    payload = event("evt_1", snapshot)
    undelivered = MemoryUndelivered([payload], current={})
    events = MemoryEventStore()

    assert reconciler(undelivered, events).replay_undelivered().replayed == 1

    assert undelivered.asked == [("customer", "cus_Gone")]
    assert events.events["evt_1"].payload == payload  # verbatim, not re-serialized


def test_replay_substitutes_the_current_object() -> None:
    snapshot = {"object": "invoice", "id": "in_1", "status": "draft"}
    current = {"object": "invoice", "id": "in_1", "status": "open", "lines": {"object": "list", "data": []}}
    undelivered = MemoryUndelivered([event("evt_2", snapshot)], current={("invoice", "in_1"): current})
    events = MemoryEventStore()

    assert reconciler(undelivered, events).replay_undelivered().replayed == 1

    stored = events.events["evt_2"]
    body = json.loads(stored.payload)
    assert body["data"]["object"] == current
    assert (body["id"], body["type"]) == (stored.event_id, stored.type) == ("evt_2", "invoice.updated")


def test_replay_does_not_ask_for_an_object_without_type_or_id() -> None:
    payload = event("evt_3", {"name": "no id, no type"})
    undelivered = MemoryUndelivered([payload], current={})
    events = MemoryEventStore()

    assert reconciler(undelivered, events).replay_undelivered().replayed == 1

    assert undelivered.asked == []
    assert events.events["evt_3"].payload == payload


def test_an_event_that_cannot_be_replayed_is_reported_and_the_others_still_are() -> None:
    failing = event("evt_4", {"object": "invoice", "id": "in_Unreachable"})
    fine = event("evt_5", {"object": "customer", "id": "cus_Fine"})
    undelivered = MemoryUndelivered([failing, fine], current={}, unreachable=frozenset({("invoice", "in_Unreachable")}))
    events = MemoryEventStore()

    outcome = reconciler(undelivered, events).replay_undelivered()

    assert outcome.replayed == 1
    assert list(events.events) == ["evt_5"]
    assert outcome.failed == [
        FailedReplay("evt_4", "invoice.updated", "StripeUnavailable: Stripe is unavailable; retry shortly.")
    ]
