"""Meter events validated synchronously: ``POST /v1/billing/meter_events`` (form, unix timestamps) and
``POST /v2/billing/meter_events`` (JSON, RFC 3339), per
https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage-api,
https://docs.stripe.com/api/billing/meter-event/create and https://docs.stripe.com/api/v2/billing/meter-event/create.

Tests taking ``target`` also run against Stripe's test mode (``STRIPE_API_KEY=sk_test_...``): that is how the
emulator's error messages and codes are checked against the real thing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, Target, error_of, make_client, unchecked
from tests.support import EMULATOR_API_KEY

DAY = 86_400


def rfc3339(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def v1_event(
    client: stripe.StripeClient, meter: stripe.billing.Meter, customer: str, value: str = "1", **extra: Any
) -> stripe.billing.MeterEvent:
    params: Any = {"event_name": meter.event_name, "payload": {"stripe_customer_id": customer, "value": value}}
    return client.v1.billing.meter_events.create(unchecked({**params, **extra}))


def v2_event(client: stripe.StripeClient, event_name: str, payload: dict[str, str], **extra: Any) -> Any:
    params: Any = {"event_name": event_name, "payload": payload, **extra}
    return client.v2.billing.meter_events.create(params)


def refused(call: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call()
    assert caught.value.http_status == 400, caught.value
    return caught.value


# --- v1 ----------------------------------------------------------------------------------------------------


def test_v1_meter_event_is_answered(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """A meter event answers ``billing.meter_event`` with its identifier, payload and timestamp
    (https://docs.stripe.com/api/billing/meter-event/object)."""
    customer = make.customer()
    meter = make.meter()
    timestamp = target.now() - 120
    event = v1_event(client, meter, customer.id, "7", identifier=f"{make.uid}-a", timestamp=timestamp)
    assert event.object == "billing.meter_event"
    assert (event.event_name, event.identifier, event.timestamp) == (meter.event_name, f"{make.uid}-a", timestamp)
    assert event.payload.to_dict() == {"stripe_customer_id": customer.id, "value": "7"}
    assert event.livemode is False
    assert abs(event.created - target.now()) < 120


def test_v1_identifier_and_timestamp_default(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """Without ``identifier`` Stripe generates one; without ``timestamp`` it is now
    (https://docs.stripe.com/api/billing/meter-event/create)."""
    customer = make.customer()
    meter = make.meter()
    first = v1_event(client, meter, customer.id)
    second = v1_event(client, meter, customer.id)
    assert first.identifier
    assert second.identifier
    assert first.identifier != second.identifier
    assert abs(first.timestamp - target.now()) < 120


def test_v1_unknown_event_name_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """An event for no meter is refused synchronously (recording-usage-api: events carry "the event name
    configured on the meter")."""
    customer = make.customer()
    params: Any = {"event_name": f"{make.uid}_nothing", "payload": {"stripe_customer_id": customer.id, "value": "1"}}
    error = refused(lambda: client.v1.billing.meter_events.create(params))
    assert f'No active meter found for event name "{make.uid}_nothing"' in str(error.user_message)


def test_v1_inactive_meter_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """A deactivated meter takes no events (https://docs.stripe.com/api/billing/meter/deactivate)."""
    customer = make.customer()
    meter = make.meter()
    client.v1.billing.meters.deactivate(meter.id)
    error = refused(lambda: v1_event(client, meter, customer.id))
    assert "No active meter found" in str(error.user_message)


def test_v1_payload_without_the_customer_key_is_refused(
    client: stripe.StripeClient, make: Factory, target: Target
) -> None:
    """The payload must hold the meter's ``customer_mapping.event_payload_key``
    (https://docs.stripe.com/api/billing/meter-event/create#create_billing_meter_event-payload)."""
    meter = make.meter()
    params: Any = {"event_name": meter.event_name, "payload": {"value": "1"}}
    error = refused(lambda: client.v1.billing.meter_events.create(params))
    if target.is_emulator:
        assert error.user_message == "Customer mapping key stripe_customer_id not found in payload."


@pytest.mark.parametrize("value", ["abc", "1.5", ""])
def test_v1_value_must_be_a_whole_number(
    client: stripe.StripeClient, make: Factory, target: Target, value: str
) -> None:
    """ "The numerical usage value in the payload only accepts whole number values"
    (recording-usage-api#usage-values)."""
    customer = make.customer()
    meter = make.meter()
    refused(lambda: v1_event(client, meter, customer.id, value))


def test_v1_timestamp_older_than_35_days_is_refused(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """ "Make sure the timestamp is within the past 35 calendar days" (recording-usage-api#event-timestamps);
    Stripe answers "The event timestamp cannot be more than 35 days in past." A day inside is accepted."""
    customer = make.customer()
    meter = make.meter()
    now = target.now()
    error = refused(lambda: v1_event(client, meter, customer.id, timestamp=now - 36 * DAY))
    assert str(error.user_message).startswith("The event timestamp cannot be more than 35 days in past.")
    assert error.code is None
    assert v1_event(client, meter, customer.id, timestamp=now - 34 * DAY).timestamp == now - 34 * DAY


def test_v1_timestamp_more_than_5_minutes_ahead_is_refused(
    client: stripe.StripeClient, make: Factory, target: Target
) -> None:
    """ "...and isn't more than 5 minutes in the future" (recording-usage-api#event-timestamps)."""
    customer = make.customer()
    meter = make.meter()
    now = target.now()
    error = refused(lambda: v1_event(client, meter, customer.id, timestamp=now + 15 * 60))
    assert "future" in str(error.user_message)
    assert v1_event(client, meter, customer.id, timestamp=now + 3 * 60).timestamp == now + 3 * 60


def test_v1_repeated_identifier_is_refused(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """Stripe "enforces uniqueness within a rolling period of at least 24 hours" of ``identifier``
    (https://docs.stripe.com/api/billing/meter-event/create#create_billing_meter_event-identifier): a repeat,
    even under a new idempotency key, is 400 "An event already exists with identifier ...", with no
    ``code`` — callers match the message and treat it as delivered."""
    customer = make.customer()
    meter = make.meter()
    identifier = f"{make.uid}-batch-1"
    v1_event(client, meter, customer.id, "5", identifier=identifier)
    error = refused(lambda: v1_event(client, meter, customer.id, "5", identifier=identifier))
    assert isinstance(error, stripe.InvalidRequestError)
    assert error.user_message == f"An event already exists with identifier {identifier}."
    assert error_of(error).get("code") is None
    assert error_of(error)["type"] == "invalid_request_error"
    if target.is_emulator:
        assert error.headers is not None
        assert error.headers.get("Stripe-Should-Retry") == "false"


def test_v1_identifier_dedupe_lasts_24_hours_of_emulator_time(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: a repeat is refused for 24 hours, then accepted — and counted again (Stripe only
    promises "at least 24 hours": never resend blindly after that)."""
    make = Factory(emulator_client, "dedupe")
    customer = make.customer()
    meter = make.meter()
    v1_event(emulator_client, meter, customer.id, "5", identifier="batch-1")
    emulator.advance_clock(23 * 3600)
    refused(lambda: v1_event(emulator_client, meter, customer.id, "5", identifier="batch-1"))
    emulator.advance_clock(3600)
    v1_event(emulator_client, meter, customer.id, "5", identifier="batch-1")
    assert [usage["value"] for usage in emulator.meter_events(meter.id)] == ["5", "5"]


def test_v1_timestamp_window_follows_the_emulator_clock(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: "past 35 days" and "5 minutes ahead" count from the emulator's now, not real time."""
    make = Factory(emulator_client, "window")
    customer = make.customer()
    meter = make.meter()
    real_now = emulator.now()
    emulator.advance_clock(36 * DAY)
    refused(lambda: v1_event(emulator_client, meter, customer.id, timestamp=real_now))
    assert v1_event(emulator_client, meter, customer.id, timestamp=emulator.now() + 200).identifier


def test_v1_unknown_customer_is_accepted_then_reported(
    client: stripe.StripeClient, make: Factory, target: Target
) -> None:
    """Whether the customer exists is checked asynchronously: the event is accepted, then not counted and
    reported as ``meter_event_customer_not_found`` in a ``v1.billing.meter.error_report_triggered`` thin
    event (recording-usage-api#handle-meter-event-errors; Stripe's synchronous error table has no customer
    code)."""
    meter = make.meter()
    event = v1_event(client, meter, "cus_DoesNotExist0", "3")
    assert event.payload["stripe_customer_id"] == "cus_DoesNotExist0"
    if target.emulator is None:
        return
    reports = target.emulator.thin_events("v1.billing.meter.error_report_triggered")
    assert len(reports) == 1
    assert reports[0]["related_object"]["id"] == meter.id
    error_types = reports[0]["data"]["reason"]["error_types"]
    assert [(kind["code"], kind["error_count"]) for kind in error_types] == [("meter_event_customer_not_found", 1)]
    assert error_types[0]["sample_errors"][0]["request"] == {"identifier": event.identifier}
    assert target.emulator.meter_events(meter.id) == []


def test_v1_retry_under_the_same_idempotency_key_counts_once(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """v1 idempotency replays the first answer for a key (https://docs.stripe.com/api/idempotent_requests):
    a retried request is not a second event."""
    make = Factory(emulator_client, "idem")
    customer = make.customer()
    meter = make.meter()
    params: Any = {"event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "4"}}
    answers = [emulator_client.v1.billing.meter_events.create(params, {"idempotency_key": "k-1"}) for _ in range(2)]
    assert answers[0].identifier == answers[1].identifier
    assert [entry["idempotent_replayed"] for entry in emulator.requests_log()][-2:] == [False, True]
    assert len(emulator.meter_events(meter.id)) == 1


def test_v1_unknown_parameter_is_refused(client: stripe.StripeClient, make: Factory) -> None:
    """Only ``event_name``, ``payload``, ``identifier``, ``timestamp`` (and ``expand``) exist
    (https://docs.stripe.com/api/billing/meter-event/create)."""
    meter = make.meter()
    params = unchecked({"event_name": meter.event_name, "payload": {"value": "1"}, "customer": "cus_x"})
    error = refused(lambda: client.v1.billing.meter_events.create(params))
    assert error.code == "parameter_unknown"


# --- v2 ----------------------------------------------------------------------------------------------------


def test_v2_meter_event_is_answered_inrfc3339(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """The v2 endpoint takes JSON and answers ``v2.billing.meter_event`` with RFC 3339 ``created`` and
    ``timestamp`` (https://docs.stripe.com/api/v2/billing/meter-event/create)."""
    customer = make.customer()
    meter = make.meter()
    event = v2_event(
        client,
        meter.event_name,
        {"stripe_customer_id": customer.id, "value": "25"},
        identifier=f"{make.uid}-v2",
        timestamp=rfc3339(target.now() - 60),
    )
    assert event.object == "v2.billing.meter_event"
    assert (event.identifier, event.event_name, event.livemode) == (f"{make.uid}-v2", meter.event_name, False)
    assert event.payload.to_dict() == {"stripe_customer_id": customer.id, "value": "25"}
    assert str(event.timestamp).startswith(rfc3339(target.now() - 60)[:16])
    assert str(event.created).endswith("Z")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("no meter", "no_meter"),
        ("archived meter", "archived_meter"),
        ("no customer key", "payload_no_customer_defined"),
        ("no value key", "payload_no_value_defined"),
        ("not a number", "payload_invalid_value"),
        ("repeated identifier", "duplicate_meter_event"),
    ],
)
def test_v2_errors_carry_stripes_v2_codes(client: stripe.StripeClient, make: Factory, case: str, code: str) -> None:
    """The v2 endpoint answers 400 with the codes of its documented error table
    (https://docs.stripe.com/api/v2/billing/meter-event/create#error-codes)."""
    customer = make.customer()
    meter = make.meter()
    payload = {"stripe_customer_id": customer.id, "value": "1"}
    event_name = meter.event_name
    extra: dict[str, Any] = {}
    if case == "no meter":
        event_name = f"{make.uid}_nothing"
    elif case == "archived meter":
        client.v1.billing.meters.deactivate(meter.id)
    elif case == "no customer key":
        payload = {"value": "1"}
    elif case == "no value key":
        payload = {"stripe_customer_id": customer.id}
    elif case == "not a number":
        payload["value"] = "lots"
    else:
        extra["identifier"] = f"{make.uid}-twice"
        v2_event(client, event_name, payload, **extra)
    error = refused(lambda: v2_event(client, event_name, payload, **extra))
    assert isinstance(error, stripe.InvalidRequestError)
    assert error.code == code
    assert error_of(error)["code"] == code


def test_v2_timestamp_window(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """The 35-days-back / 5-minutes-ahead window holds on v2 too (``timestamp`` "Must be within the past 35
    calendar days or up to 5 minutes in the future")."""
    customer = make.customer()
    meter = make.meter()
    payload = {"stripe_customer_id": customer.id, "value": "1"}
    now = target.now()
    old = refused(lambda: v2_event(client, meter.event_name, payload, timestamp=rfc3339(now - 36 * DAY)))
    ahead = refused(lambda: v2_event(client, meter.event_name, payload, timestamp=rfc3339(now + 900)))
    if target.is_emulator:
        assert (old.code, ahead.code) == ("timestamp_too_far_in_past", "timestamp_in_future")


def test_v2_timestamp_must_be_an_rfc3339_string(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """API v2 takes ``date-time`` strings; a unix integer (what the SDK makes of a ``datetime``) is refused."""
    make = Factory(emulator_client, "rfc")
    customer = make.customer()
    meter = make.meter()
    payload = {"stripe_customer_id": customer.id, "value": "1"}
    for bad in (emulator.now(), "2026-01-01 10:00:00", "yesterday"):
        error = refused(lambda bad=bad: v2_event(emulator_client, meter.event_name, payload, timestamp=bad))
        assert error_of(error)["param"] == "timestamp"
    moment = emulator.now()
    with_offset = datetime.fromtimestamp(moment, UTC).astimezone().isoformat()  # local offset, e.g. +02:00
    accepted = v2_event(emulator_client, meter.event_name, payload, timestamp=with_offset)
    assert accepted.timestamp == rfc3339(moment)


def test_v2_idempotency_replays_successes_and_reruns_failures(emulator: StripeEmulator) -> None:
    """ "With API v2, retries don't repeat successful operations. Stripe retries failed or partially failed
    work" (https://docs.stripe.com/api/idempotent_requests): a 500 under a key is not replayed to the retry,
    which runs; the success is replayed to the next retry."""
    client = make_client(EMULATOR_API_KEY, emulator.url)
    make = Factory(client, "v2idem")
    customer = make.customer()
    meter = make.meter()
    payload = {"stripe_customer_id": customer.id, "value": "2"}
    emulator.inject_fault("/v2/billing/meter_events", status=500)
    options: Any = {"idempotency_key": "v2-key"}
    params: Any = {"event_name": meter.event_name, "payload": payload, "identifier": "v2-once"}
    with pytest.raises(stripe.APIError):
        client.v2.billing.meter_events.create(params, options)
    first = client.v2.billing.meter_events.create(params, options)
    again = client.v2.billing.meter_events.create(params, options)
    assert first.identifier == again.identifier == "v2-once"
    log = [(entry["status"], entry["idempotent_replayed"]) for entry in emulator.requests_log()][-3:]
    assert log == [(500, False), (200, False), (200, True)]
    assert len(emulator.meter_events(meter.id)) == 1
