"""The high-throughput meter event stream (API v2): sessions, the stream, and the asynchronous validation that
reports invalid events as thin events.

- https://docs.stripe.com/api/v2/billing/meter-event-stream/session/create (a token valid 15 minutes),
- https://docs.stripe.com/api/v2/billing/meter-event-stream/create (1-100 events, "processed asynchronously,
  including validation"; 401 ``billing_meter_event_session_expired``),
- https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage-api#handle-meter-event-errors
  (``v1.billing.meter.error_report_triggered`` and ``v1.billing.meter.no_meter_found``, thin payloads),
- https://docs.stripe.com/api/v2/core/events/retrieve (the event with its ``data``).

The SDK sends the stream to ``base_addresses["meter_events"]``; tests point it at the emulator's one port.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.receiver import Receiver
from tests.emulator.support import Factory, Target, make_client
from tests.support import EMULATOR_API_KEY

THIN_SECRET = "whsec_thin"
ERROR_REPORT = "v1.billing.meter.error_report_triggered"
NO_METER = "v1.billing.meter.no_meter_found"


def stream_client(target_url: str | None, token: str, **options: Any) -> stripe.StripeClient:
    return make_client(token, target_url, **options)


def event(event_name: str, customer: str, value: str = "1", **extra: Any) -> dict[str, Any]:
    return {"event_name": event_name, "payload": {"stripe_customer_id": customer, "value": value}, **extra}


def send(client: stripe.StripeClient, *events: dict[str, Any]) -> None:
    params: Any = {"events": list(events)}
    client.v2.billing.meter_event_stream.create(params)


def test_session_is_a_15_minute_token(client: stripe.StripeClient, target: Target) -> None:
    """A session answers an ``authentication_token`` that expires 15 minutes after ``created`` (RFC 3339)
    (https://docs.stripe.com/api/v2/billing/meter-event-stream/session/object)."""
    session = client.v2.billing.meter_event_session.create()
    assert session.object == "v2.billing.meter_event_session"
    assert session.id
    assert session.authentication_token
    assert session.livemode is False
    created = datetime.fromisoformat(str(session.created))
    expires = datetime.fromisoformat(str(session.expires_at))
    assert round((expires - created).total_seconds()) == 15 * 60


def test_stream_accepts_events_with_the_session_token(
    client: stripe.StripeClient, make: Factory, target: Target
) -> None:
    """The stream takes the session token as its API key and answers ``{}`` at once; valid events are then
    counted (https://docs.stripe.com/api/v2/billing/meter-event-stream/create)."""
    customer = make.customer()
    meter = make.meter()
    session = client.v2.billing.meter_event_session.create()
    streamer = stream_client(target.base_url, session.authentication_token)
    send(
        streamer,
        event(meter.event_name, customer.id, "4", identifier=f"{make.uid}-s1"),
        event(meter.event_name, customer.id, "6"),
    )
    if target.emulator is not None:
        counted = target.emulator.meter_events(meter.id)
        assert [(usage["value"], usage["source"]) for usage in counted] == [("4", "stream"), ("6", "stream")]
        assert counted[0]["identifier"] == f"{make.uid}-s1"


def test_stream_takes_at_most_100_events(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """ "Supports up to 100 events per request" (meter-event-stream/create): 101 is a 400, nothing counted."""
    meter = make.meter()
    session = client.v2.billing.meter_event_session.create()
    streamer = stream_client(target.base_url, session.authentication_token)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        send(streamer, *[event(meter.event_name, "cus_x") for _ in range(101)])
    assert caught.value.http_status == 400
    if target.emulator is not None:
        assert target.emulator.meter_events() == []
        assert target.emulator.thin_events() == []


def test_stale_session_raises_temporary_session_expired(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """After 15 minutes (emulator clock) the token is refused with 401 ``temporary_session_expired`` /
    ``billing_meter_event_session_expired``, which the SDK raises as ``TemporarySessionExpiredError``."""
    make = Factory(emulator_client, "stale")
    customer = make.customer()
    meter = make.meter()
    session = emulator_client.v2.billing.meter_event_session.create()
    streamer = stream_client(emulator.url, session.authentication_token)
    emulator.advance_clock(14 * 60)
    send(streamer, event(meter.event_name, customer.id))
    emulator.advance_clock(61)
    with pytest.raises(stripe.TemporarySessionExpiredError) as caught:
        send(streamer, event(meter.event_name, customer.id))
    assert caught.value.http_status == 401
    assert caught.value.code == "billing_meter_event_session_expired"
    assert len(emulator.meter_events(meter.id)) == 1


def test_stream_needs_a_session_token(emulator: StripeEmulator) -> None:
    """A secret key (or an unknown token) does not open the stream: 401 (emulator wording)."""
    for key in (EMULATOR_API_KEY, "ek_test_unknown"):
        with pytest.raises(stripe.AuthenticationError) as caught:
            send(make_client(key, emulator.url), event("anything", "cus_x"))
        assert caught.value.http_status == 401
    session = make_client(EMULATOR_API_KEY, emulator.url).v2.billing.meter_event_session.create()
    with pytest.raises(stripe.AuthenticationError):  # and a session token opens nothing else
        make_client(session.authentication_token, emulator.url).v1.customers.list()


def test_invalid_stream_events_are_reported_asynchronously(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Validation happens after the answer: the stream accepts everything, valid events are counted, and the
    invalid ones come back later as one ``v1.billing.meter.error_report_triggered`` per meter (related
    object: the meter; ``data.reason.error_types[]`` with counts and sample errors naming the identifier)
    and one ``v1.billing.meter.no_meter_found`` for unknown event names (recording-usage-api#error-codes)."""
    make = Factory(emulator_client, "async")
    customer = make.customer()
    meter = make.meter()
    session = emulator_client.v2.billing.meter_event_session.create()
    streamer = stream_client(emulator.url, session.authentication_token)
    now = emulator.now()
    too_old = datetime.fromtimestamp(now - 40 * 86_400, UTC).isoformat()
    send(
        streamer,
        event(meter.event_name, customer.id, "5", identifier="good"),
        event(meter.event_name, "cus_Unknown000001", "1", identifier="who"),
        event(meter.event_name, customer.id, "a lot", identifier="nan"),
        event(meter.event_name, customer.id, "1", identifier="old", timestamp=too_old),
        {"event_name": meter.event_name, "payload": {"value": "1"}, "identifier": "nobody"},
        event("no_such_meter", customer.id, "1", identifier="lost"),
    )
    assert [usage["identifier"] for usage in emulator.meter_events(meter.id)] == ["good"]
    reports = emulator.thin_events(ERROR_REPORT)
    assert len(reports) == 1
    report = reports[0]
    assert report["object"] == "v2.core.event"
    assert report["related_object"] == {
        "id": meter.id,
        "type": "billing.meter",
        "url": f"/v1/billing/meters/{meter.id}",
    }
    reason = report["data"]["reason"]
    assert reason["error_count"] == 4
    assert {
        kind["code"]: [sample["request"]["identifier"] for sample in kind["sample_errors"]]
        for kind in reason["error_types"]
    } == {
        "meter_event_customer_not_found": ["who"],
        "meter_event_invalid_value": ["nan"],
        "meter_event_no_customer_defined": ["nobody"],
        "timestamp_too_far_in_past": ["old"],
    }
    assert report["data"]["developer_message_summary"] == "There are 4 invalid events"
    assert report["data"]["validation_start"] <= report["data"]["validation_end"]
    lost = emulator.thin_events(NO_METER)
    assert len(lost) == 1
    assert "related_object" not in lost[0]  # nothing to relate to: the SDK declares none
    assert lost[0]["data"]["reason"]["error_types"][0]["sample_errors"][0] == {
        "error_message": "No meter was found matching event_name no_such_meter.",
        "request": {"identifier": "lost"},
    }
    fetched = emulator_client.v2.core.events.retrieve(report["id"])
    assert fetched.type == ERROR_REPORT
    assert cast(Any, fetched).data["reason"]["error_count"] == 4  # v2 Event declares no data: its subclasses do
    assert emulator.events()
    assert all(e["type"] != ERROR_REPORT for e in emulator.events())


def test_error_reports_hold_samples_only(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """An error report counts every invalid event but carries only a few samples (at most 5 per code in
    the emulator; Stripe does not say how many): callers cannot rebuild the full list from it."""
    make = Factory(emulator_client, "samples")
    meter = make.meter()
    session = emulator_client.v2.billing.meter_event_session.create()
    streamer = stream_client(emulator.url, session.authentication_token)
    send(streamer, *[event(meter.event_name, f"cus_Missing{index:05d}") for index in range(40)])
    (report,) = emulator.thin_events(ERROR_REPORT)
    (kind,) = report["data"]["reason"]["error_types"]
    assert (kind["error_count"], len(kind["sample_errors"])) == (40, 5)


def test_repeated_identifiers_on_the_stream_are_dropped(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """The stream enforces identifier uniqueness "within a rolling 24 hour period" too, silently: a repeat
    is neither counted nor reported (it is no error code of the error reports)."""
    make = Factory(emulator_client, "dupes")
    customer = make.customer()
    meter = make.meter()
    session = emulator_client.v2.billing.meter_event_session.create()
    streamer = stream_client(emulator.url, session.authentication_token)
    send(streamer, event(meter.event_name, customer.id, "3", identifier="once"))
    send(streamer, event(meter.event_name, customer.id, "3", identifier="once"))
    emulator_client.v1.billing.meter_events.create(
        {
            "event_name": meter.event_name,
            "payload": {"stripe_customer_id": customer.id, "value": "3"},
            "identifier": "sync-once",
        }
    )
    send(streamer, event(meter.event_name, customer.id, "3", identifier="sync-once"))
    assert [usage["identifier"] for usage in emulator.meter_events(meter.id)] == ["once", "sync-once"]
    assert emulator.thin_events() == []


def test_error_reports_are_delivered_as_thin_notifications(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """An event destination for thin payloads is sent the notification (no ``data``), signed like any
    webhook; ``parse_event_notification`` verifies it, ``fetch_event`` and ``fetch_related_object`` reach
    the emulator (https://docs.stripe.com/event-destinations#thin-payload). A snapshot endpoint does not get
    thin events, nor the thin destination snapshot ones."""
    snapshot = Receiver()
    try:
        emulator.add_webhook_endpoint(receiver.url, THIN_SECRET, [ERROR_REPORT], event_payload="thin")
        emulator.add_webhook_endpoint(snapshot.url, "whsec_snapshot", ["*"])
        make = Factory(emulator_client, "deliver")
        make.customer()  # a snapshot event: customer.created
        meter = make.meter()
        session = emulator_client.v2.billing.meter_event_session.create()
        send(stream_client(emulator.url, session.authentication_token), event(meter.event_name, "cus_Gone00000001"))
        emulator_client.v1.customers.list()  # any later request processes the queue
        (request,) = receiver.wait_for(1)
        assert emulator.wait_for_deliveries(timeout=10)
        notification: Any = emulator_client.parse_event_notification(  # a union of every thin event type
            request.body, request.headers["stripe-signature"], THIN_SECRET
        )
        assert notification.type == ERROR_REPORT
        assert b'"data"' not in request.body
        full = notification.fetch_event()
        assert full.data.reason.error_types[0].code == "meter_event_customer_not_found"
        related = notification.fetch_related_object()
        assert related.id == meter.id
        assert [received.event("whsec_snapshot").type for received in snapshot.received] == ["customer.created"]
        assert len(receiver.received) == 1
    finally:
        snapshot.close()


def test_faults_reach_the_meter_event_paths(emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection covers the new paths, the stream's (``meter_events`` base) included: a 429 is
    refused before anything is accepted; a 500 on v2 is not saved under the idempotency key, so the SDK's
    retry runs the request (https://docs.stripe.com/error-low-level)."""
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=2)
    make = Factory(client, "faults")
    customer = make.customer()
    meter = make.meter()
    emulator.inject_fault("/v1/billing/meter_events", status=429)
    with pytest.raises(stripe.RateLimitError):
        client.v1.billing.meter_events.create(
            {"event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "1"}}
        )
    session = client.v2.billing.meter_event_session.create()
    streamer = make_client(session.authentication_token, emulator.url, max_network_retries=2)
    emulator.inject_fault("/v2/billing/meter_event_stream", status=500)
    send(streamer, event(meter.event_name, customer.id, "2", identifier="retried"))
    stream_statuses = [e["status"] for e in emulator.requests_log() if e["path"] == "/v2/billing/meter_event_stream"]
    assert stream_statuses == [500, 200]
    assert [usage["identifier"] for usage in emulator.meter_events(meter.id)] == ["retried"]
    emulator.inject_fault("/v2/billing/meter_event_stream", status=429)
    with pytest.raises(stripe.RateLimitError):
        send(streamer, event(meter.event_name, customer.id))
