"""The EventBridge ingress (issue 14 §2): an event Stripe put on our partner bus is checked and stored by its Stripe
id before it is applied. Envelope: https://docs.stripe.com/event-destinations/eventbridge (the EventBridge event
structure, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incytes_billing.adapters.eventbridge_events import parse_eventbridge_delivery
from incytes_billing.domain.eventbridge import ArchiveReplay, EventBridgeIngress
from incytes_billing.errors import ForeignEvent, InvalidPayload, ValidationFailed
from tests.fakes import MemoryEventStore

SOURCE = "aws.partner/stripe.com/ed_test_61Snapshot"
THIN_SOURCE = "aws.partner/stripe.com/ed_test_61Thin"
ACCOUNT = "123456789012"


def envelope(detail: dict[str, Any], *, source: str = SOURCE, account: str = ACCOUNT) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "dd63deb4-3939-774e-9fdf-5cf9457742d0",
            "detail-type": detail["type"],
            "source": source,
            "account": account,
            "time": "2026-12-02T13:00:05Z",
            "region": "us-east-1",
            "resources": [f"arn:aws:events:us-east-1::event-source/{source}"],
            "detail": detail,
        }
    )


SNAPSHOT = {
    "id": "evt_1T1XVI8p2opQAPTX",
    "object": "event",
    "api_version": "2026-10-28.endive",
    "created": 1764680403,
    "data": {"object": {"id": "in_1T1XVD8p2opQAPTX", "object": "invoice", "status": "draft"}},
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": None, "idempotency_key": None},
    "type": "invoice.created",
}
THIN = {
    "id": "evt_test_65RCjj4EqW1sabcjs2Z16RCMoNQdSQkOWvfL6L5uU2K40u",
    "object": "v2.core.event",
    "type": "v1.billing.meter.error_report_triggered",
    "created": "2026-12-02T13:00:04.134Z",
    "livemode": False,
    "context": None,
    "reason": None,
    "related_object": {
        "id": "mtr_test_61RCjiqd",
        "type": "billing.meter",
        "url": "/v1/billing/meters/mtr_test_61RCjiqd",
    },
}


def ingress(store: MemoryEventStore) -> EventBridgeIngress:
    return EventBridgeIngress(store, frozenset({SOURCE, THIN_SOURCE}), ACCOUNT)


def test_a_snapshot_event_is_stored_by_its_stripe_id_as_the_webhook_would_store_it() -> None:
    store = MemoryEventStore()
    assert ingress(store).accept(parse_eventbridge_delivery(envelope(SNAPSHOT))) == SNAPSHOT["id"]
    stored = store.events[str(SNAPSHOT["id"])]
    assert (stored.type, stored.kind, stored.created, stored.status) == (
        "invoice.created",
        "snapshot",
        1764680403,
        "received",
    )
    assert json.loads(stored.payload) == SNAPSHOT  # the detail is the webhook body


def test_a_thin_event_is_stored_as_a_thin_event_with_its_rfc3339_time() -> None:
    store = MemoryEventStore()
    assert ingress(store).accept(parse_eventbridge_delivery(envelope(THIN, source=THIN_SOURCE))) == THIN["id"]
    stored = store.events[str(THIN["id"])]
    assert (stored.kind, stored.created) == ("thin", 1796216404)  # 2026-12-02T13:00:04Z


def test_the_same_event_twice_is_stored_once_and_named_both_times() -> None:
    store = MemoryEventStore()
    first = ingress(store).accept(parse_eventbridge_delivery(envelope(SNAPSHOT)))
    store.mark(first, "processed")
    assert ingress(store).accept(parse_eventbridge_delivery(envelope(SNAPSHOT))) == first
    assert store.events[first].status == "processed"  # not reset: the processor sees it was applied


@pytest.mark.parametrize(
    ("source", "account"),
    [
        ("aws.partner/stripe.com/ed_test_someone_else", ACCOUNT),  # another Stripe destination
        ("aws.partner/example.com/ed_test_61Snapshot", ACCOUNT),  # another partner
        ("billing.forged", ACCOUNT),  # anyone with PutEvents on a bus routed here
        (SOURCE, "999999999999"),  # our source's name, another account's bus
    ],
)
def test_an_event_from_a_foreign_source_or_account_is_refused_and_not_stored(source: str, account: str) -> None:
    store = MemoryEventStore()
    with pytest.raises(ForeignEvent):
        ingress(store).accept(parse_eventbridge_delivery(envelope(SNAPSHOT, source=source, account=account)))
    assert store.events == {}


def test_with_no_source_configured_every_eventbridge_event_is_refused() -> None:
    with pytest.raises(ForeignEvent):
        EventBridgeIngress(MemoryEventStore(), frozenset(), ACCOUNT).accept(
            parse_eventbridge_delivery(envelope(SNAPSHOT))
        )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"source": SOURCE, "account": ACCOUNT}),  # no detail
        envelope({**SNAPSHOT, "object": "invoice"}),  # a Stripe object, not an event
        envelope({**SNAPSHOT, "id": 5}),
        envelope({**SNAPSHOT, "created": "yesterday"}),
        envelope({**SNAPSHOT, "created": True}),
    ],
)
def test_a_message_that_is_not_a_stripe_event_on_eventbridge_is_an_invalid_payload(body: str) -> None:
    with pytest.raises(InvalidPayload):
        parse_eventbridge_delivery(body)


class RecordingArchive:
    def __init__(self) -> None:
        self.replays: list[tuple[str, datetime, datetime]] = []

    def replay(self, archive_name: str, start: datetime, end: datetime) -> str:
        self.replays.append((archive_name, start, end))
        return f"{archive_name}-replay"


NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def test_a_replay_covers_the_window_in_every_archive() -> None:
    archive = RecordingArchive()
    replay = ArchiveReplay(archive, frozenset({"stripe-thin", "stripe-snapshot"}), clock=lambda: NOW)
    start, end = NOW - timedelta(hours=6), NOW - timedelta(hours=1)
    assert replay.replay(start, end) == ["stripe-snapshot-replay", "stripe-thin-replay"]
    assert archive.replays == [("stripe-snapshot", start, end), ("stripe-thin", start, end)]


@pytest.mark.parametrize(
    ("start", "end", "archives"),
    [
        (NOW - timedelta(hours=1), NOW - timedelta(hours=2), {"a"}),  # backwards
        (NOW - timedelta(hours=1), NOW + timedelta(hours=1), {"a"}),  # into the future
        (NOW.replace(tzinfo=None) - timedelta(hours=1), NOW, {"a"}),  # no offset: which hour?
        (NOW - timedelta(hours=1), NOW, set()),  # webhook ingress: no archive
    ],
)
def test_a_replay_window_that_cannot_be_meant_is_refused_before_anything_starts(
    start: datetime, end: datetime, archives: set[str]
) -> None:
    archive = RecordingArchive()
    with pytest.raises(ValidationFailed):
        ArchiveReplay(archive, frozenset(archives), clock=lambda: NOW).replay(start, end)
    assert archive.replays == []
