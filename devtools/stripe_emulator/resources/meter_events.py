"""Meter events: usage reported to billing meters, three ways, and the ledger that sums it.

Endpoints (https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage-api):

- ``POST /v1/billing/meter_events`` (form; ``timestamp`` unix seconds) and ``POST /v2/billing/meter_events``
  (JSON; ``timestamp`` RFC 3339) validate **synchronously** and answer the event
  (https://docs.stripe.com/api/billing/meter-event/create, https://docs.stripe.com/api/v2/billing/meter-event/create).
- ``POST /v2/billing/meter_event_session`` opens a session whose ``authentication_token`` is valid 15 minutes;
  ``POST /v2/billing/meter_event_stream`` (1-100 events; the SDK sends it to ``base_addresses["meter_events"]``,
  which the emulator serves on its one port) takes that token as its API key and answers ``{}`` at once:
  the events are validated **asynchronously**
  (https://docs.stripe.com/api/v2/billing/meter-event-stream/create). A stale token is 401
  ``temporary_session_expired`` / ``billing_meter_event_session_expired`` (the SDK raises
  ``TemporarySessionExpiredError``).

What is checked, and how each channel answers (v1: ``invalid_request_error`` without a ``code``, as Stripe
answers a repeated identifier; v2: the codes of Stripe's v2 error table; stream and the asynchronous part of
every channel: the ``code`` of a ``v1.billing.meter.error_report_triggered`` / ``no_meter_found`` thin event):

=================================  ===========================  ================================
check                              v2 ``code`` (400)            asynchronous ``code``
=================================  ===========================  ================================
a meter has the ``event_name``     ``no_meter``                 ``no_meter`` (``no_meter_found``)
the meter is active                ``archived_meter``           ``archived_meter``
payload has the customer key       ``payload_no_customer_defined``  ``meter_event_no_customer_defined``
payload has the value key (sum,    ``payload_no_value_defined`` ``meter_event_value_not_found``
last)
the value is a whole number (v2    ``payload_invalid_value``    ``meter_event_invalid_value``
and stream: a positive one)
timestamp >= now - 35 days         ``timestamp_too_far_in_past``  ``timestamp_too_far_in_past``
timestamp <= now + 5 minutes       ``timestamp_in_future``      ``timestamp_in_future``
identifier unused for 24 h         ``duplicate_meter_event``    (stream: dropped silently)
the customer exists (always        --                           ``meter_event_customer_not_found``
asynchronous)
=================================  ===========================  ================================

The customer check is asynchronous on every channel: Stripe's synchronous error table has no
customer code and its error reports do. An event for an unknown (or deleted) customer is accepted, then
not counted, and reported in an error report.

Identifiers are unique account-wide for 24 hours of emulator time (Stripe: "within a rolling period of at
least 24 hours"); after that a repeat is accepted and **counted again**, which is what callers must guard
against.

**Processing.** Accepted events wait in a queue that the clock rule :data:`PROCESS_RULE` works through at
the next tick (the next API request or clock move): valid ones enter the ledger (what summaries and
invoices read), invalid ones become one error report per meter (and one ``no_meter_found`` for unknown
event names) per processing step, carrying the error counts and at most :data:`MAX_SAMPLES` sample errors
per code. ``processing_lag_seconds`` (a control, default 0) models Stripe's asynchronous aggregation:
summaries and invoices see an event only that many seconds after it arrived.

Summaries (``GET /v1/billing/meters/{id}/event_summaries``) live in :mod:`.meter_event_summaries`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from ..errors import ParamError, StripeError, invalid_request
from ..params import EXPAND, Int, ListOf, Obj, Param, Str
from ..rfc3339 import TimeFormatError, format_time, parse_time
from ..routing import Call, RouteTable
from ..store import JSON, Store, random_token
from . import thin_events
from .kinds import (
    BILLING_METER,
    BILLING_METER_EVENT,
    CUSTOMER,
    METER_EVENT_SESSION,
    METER_EVENT_STREAM,
    V2_METER_EVENT,
)

routes = RouteTable()

Channel = Literal["v1", "v2", "stream"]

PAST_WINDOW_SECONDS = 35 * 86_400
FUTURE_WINDOW_SECONDS = 5 * 60
IDENTIFIER_WINDOW_SECONDS = 24 * 60 * 60
SESSION_SECONDS = 15 * 60
MAX_STREAM_EVENTS = 100
MAX_SAMPLES = 5
VALIDATION_WINDOW_SECONDS = 10
SESSION_TOKEN_PREFIX = "ek_test_"  # noqa: S105 - the prefix of emulator session tokens, not a secret

ERROR_REPORT = "v1.billing.meter.error_report_triggered"
NO_METER_FOUND = "v1.billing.meter.no_meter_found"
SESSION_EXPIRED_TYPE = "temporary_session_expired"
SESSION_EXPIRED_CODE = "billing_meter_event_session_expired"

_WHOLE = re.compile(r"^-?[0-9]+$")
_POSITIVE = re.compile(r"^[0-9]+$")


# parameters --------------------------------------------------------------------------------------
class StrMap(Param):
    """A hash of strings (``payload[stripe_customer_id]=cus_...`` in a form, an object in JSON)."""

    def convert(self, raw: Any, path: str) -> Any:
        if not isinstance(raw, dict):
            raise ParamError("Invalid object", param=path)
        result: dict[str, str] = {}
        for key, value in raw.items():
            if not isinstance(value, str):
                raise ParamError(f"Invalid string: {value!r}", param=f"{path}[{key}]")
            result[str(key)] = value
        return result


class Rfc3339(Param):
    """An RFC 3339 date-time with an offset -> unix seconds (float). A unix integer is refused: the SDK
    turns a ``datetime`` into one for v2 requests too, and API v2 takes ``date-time`` strings."""

    def convert(self, raw: Any, path: str) -> Any:
        if not isinstance(raw, str):
            raise ParamError(f"Invalid timestamp: {raw!r}; expected an RFC 3339 date-time string", param=path)
        try:
            return parse_time(raw)
        except TimeFormatError:
            raise ParamError(f"Invalid timestamp: {raw!r}; expected an RFC 3339 date-time", param=path) from None


V1_CREATE = Obj(
    {
        "event_name": Str(required=True, max_length=100),
        "expand": EXPAND,
        "identifier": Str(max_length=100),
        "payload": StrMap(required=True),
        "timestamp": Int(),
    }
)
V2_EVENT = Obj(
    {
        "event_name": Str(required=True, max_length=100),
        "identifier": Str(max_length=100),
        "payload": StrMap(required=True),
        "timestamp": Rfc3339(),
    }
)
V2_CREATE = V2_EVENT
SESSION_CREATE = Obj({})
STREAM_CREATE = Obj({"events": ListOf(V2_EVENT, required=True, max_items=MAX_STREAM_EVENTS)})


# the ledger --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    """One counted event."""

    meter: str
    event_name: str
    customer: str
    value: Decimal
    timestamp: float
    identifier: str
    received_at: float
    source: Channel

    def as_json(self) -> JSON:
        return {
            "meter": self.meter,
            "event_name": self.event_name,
            "customer": self.customer,
            "value": str(self.value),
            "timestamp": self.timestamp,
            "identifier": self.identifier,
            "received_at": self.received_at,
            "source": self.source,
        }


@dataclass
class Pending:
    """An accepted event waiting to be processed (fully validated at processing time if ``checked`` is
    false, as stream events are; otherwise only the customer is left to check)."""

    event_name: str
    identifier: str
    payload: dict[str, str]
    timestamp: float
    received_at: float
    source: Channel
    checked: bool


@dataclass
class MeterLedger:
    processing_lag: float = 0.0
    identifiers: dict[str, float] = field(default_factory=dict)  # identifier -> received at
    pending: list[Pending] = field(default_factory=list)
    by_meter: dict[str, dict[str, list[Usage]]] = field(default_factory=dict)  # meter -> customer -> events
    accepted: list[Usage] = field(default_factory=list)  # arrival order
    sessions: dict[str, float] = field(default_factory=dict)  # authentication token -> expires at

    def identifier_taken(self, identifier: str, now: float) -> bool:
        seen = self.identifiers.get(identifier)
        return seen is not None and now - seen < IDENTIFIER_WINDOW_SECONDS

    def count(self, usage: Usage) -> None:
        self.by_meter.setdefault(usage.meter, {}).setdefault(usage.customer, []).append(usage)
        self.accepted.append(usage)

    def events(self, meter: str, customer: str, start: float, end: float, processed_by: float) -> list[Usage]:
        """Counted events of ``customer`` on ``meter`` with ``start <= timestamp < end``, received (and so
        processed) by ``processed_by``."""
        return [
            usage
            for usage in self.by_meter.get(meter, {}).get(customer, [])
            if start <= usage.timestamp < end and usage.received_at <= processed_by
        ]


def ledger_of(store: Store) -> MeterLedger:
    return store.state("meter_ledger", MeterLedger)


EVENT_TIME_WINDOWS = {"hour": 3600, "day": 86_400}


def pre_aggregated(meter: JSON, events: Iterable[Usage]) -> list[Usage]:
    """A meter with ``event_time_window`` (``hour``/``day``) takes pre-aggregated events: "Stripe only uses the
    most recent meter event within the hourly or daily window" (https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage,
    Event ingestion); a raw meter (no window) uses every event."""
    chosen = list(events)
    window = EVENT_TIME_WINDOWS.get(meter.get("event_time_window") or "")
    if window is None:
        return chosen
    latest: dict[int, Usage] = {}
    for usage in chosen:  # arrival order: a later arrival wins a timestamp tie
        slot = int(usage.timestamp // window)
        if slot not in latest or usage.timestamp >= latest[slot].timestamp:
            latest[slot] = usage
    return sorted(latest.values(), key=lambda usage: usage.timestamp)


def aggregate(formula: str, events: Iterable[Usage]) -> Decimal:
    """The meter's ``default_aggregation.formula`` over ``events`` (https://docs.stripe.com/api/billing/meter/object):
    ``sum`` of the values, ``count`` of the events, ``last`` value (latest timestamp, then arrival)."""
    chosen = list(events)
    if formula == "count":
        return Decimal(len(chosen))
    if formula == "last":
        latest = None
        for usage in chosen:  # arrival order: a later arrival wins a timestamp tie
            if latest is None or usage.timestamp >= latest.timestamp:
                latest = usage
        return latest.value if latest is not None else Decimal(0)
    return sum((usage.value for usage in chosen), Decimal(0))


def usage_total(store: Store, meter: JSON, customer: str, *, start: float, end: float, now: float) -> Decimal:
    """What ``customer`` used on ``meter`` in ``[start, end)``, as Stripe has processed it by ``now``."""
    ledger = ledger_of(store)
    events = ledger.events(meter["id"], customer, start, end, now - ledger.processing_lag)
    return aggregate(meter["default_aggregation"]["formula"], pre_aggregated(meter, events))


def json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# validation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Why an event is refused: ``code`` in error reports, ``v2_code`` for the v2 endpoint, and the
    messages of a v1 answer, a v2 answer and an error report's sample (Stripe's words where known)."""

    code: str
    v2_code: str
    message: str
    param: str | None
    meter: JSON | None
    v2_message: str = ""
    sample: str = ""

    def error(self, channel: Channel) -> StripeError:
        if channel == "v1":
            return invalid_request(self.message, param=self.param)
        return invalid_request(self.v2_message or self.message, param=self.param, code=self.v2_code)

    @property
    def sample_message(self) -> str:
        return self.sample or self.message


def _meter_named(store: Store, event_name: str) -> JSON | None:
    """The meter of ``event_name``: the active one if several (a deactivated meter keeps its name)."""
    found = [meter for meter in store.scan(BILLING_METER) if meter["event_name"] == event_name]
    found.sort(key=lambda meter: meter["status"] != "active")
    return dict(found[0]) if found else None


def _rendered(timestamp: float, channel: Channel) -> str:
    return format_time(timestamp) if channel != "v1" else str(math.floor(timestamp))


def check_event(
    store: Store, channel: Channel, event_name: str, payload: dict[str, str], *, timestamp: float, now: float
) -> tuple[JSON | None, Problem | None]:
    """Everything but the identifier and the customer's existence: the meter and a problem, if any."""
    meter = _meter_named(store, event_name)
    if meter is None:
        return None, Problem(
            "no_meter",
            "no_meter",
            f'No active meter found for event name "{event_name}".',
            "event_name",
            None,
            v2_message=f"A meter must exist to submit events: no meter has the event_name {event_name!r}.",
            sample=f"No meter was found matching event_name {event_name}.",
        )
    if meter["status"] != "active":
        return meter, Problem(
            "archived_meter",
            "archived_meter",
            f'No active meter found for event name "{event_name}".',
            "event_name",
            meter,
            v2_message=f"The meter must be Active to submit events: meter {meter['id']} is inactive.",
            sample=f"Meter {meter['id']} is inactive.",
        )
    customer_key = meter["customer_mapping"]["event_payload_key"]
    if not payload.get(customer_key):
        message = f"Customer mapping key {customer_key} not found in payload."
        code, v2_code = "meter_event_no_customer_defined", "payload_no_customer_defined"
        return meter, Problem(code, v2_code, message, "payload", meter)
    if meter["default_aggregation"]["formula"] != "count":
        value_key = meter["value_settings"]["event_payload_key"]
        if value_key not in payload:
            message = f"Value key {value_key} not found in payload."
            return meter, Problem("meter_event_value_not_found", "payload_no_value_defined", message, "payload", meter)
        raw = payload[value_key]
        pattern = _WHOLE if channel == "v1" else _POSITIVE
        if not pattern.match(raw) or (channel != "v1" and int(raw) == 0):
            return meter, Problem(
                "meter_event_invalid_value",
                "payload_invalid_value",
                f"Invalid value {raw!r} for payload key {value_key}: the value must be a whole number.",
                f"payload[{value_key}]",
                meter,
                v2_message=f"The value must be a positive integer: {raw!r} (payload key {value_key}).",
            )
    earliest = now - PAST_WINDOW_SECONDS
    if timestamp < earliest:
        message = (
            "The event timestamp cannot be more than 35 days in past. Expected a timestamp greater than or "
            f"equal to {_rendered(math.ceil(earliest), channel)}."
        )
        return meter, Problem("timestamp_too_far_in_past", "timestamp_too_far_in_past", message, "timestamp", meter)
    if timestamp > now + FUTURE_WINDOW_SECONDS:
        message = "The event timestamp cannot be in future."
        return meter, Problem("timestamp_in_future", "timestamp_in_future", message, "timestamp", meter)
    return meter, None


def _customer_problem(store: Store, meter: JSON, payload: dict[str, str]) -> Problem | None:
    customer_id = payload[meter["customer_mapping"]["event_payload_key"]]
    customer = store.get(CUSTOMER, customer_id)
    if customer is not None and not customer.get("deleted"):
        return None
    message = f"No customer found with id {customer_id}."
    return Problem("meter_event_customer_not_found", "", message, "payload", meter)


def _duplicate(identifier: str, channel: Channel) -> StripeError:
    if channel == "v1":
        # No `code` and `Stripe-Should-Retry: false`, as Stripe answers it (see README).
        return StripeError(
            400,
            f"An event already exists with identifier {identifier}.",
            headers={"Stripe-Should-Retry": "false"},
        )
    return invalid_request(
        "A meter event with a duplicate identifier has already been submitted.", code="duplicate_meter_event"
    )


def _accept_sync(call: Call, channel: Channel, params: dict[str, Any], timestamp: float) -> tuple[str, float]:
    """Validate a v1/v2 event now; queue it for processing. Returns its identifier and arrival time."""
    now = call.store.clock.now_float()
    ledger = ledger_of(call.store)
    payload: dict[str, str] = params["payload"]
    _, problem = check_event(call.store, channel, params["event_name"], payload, timestamp=timestamp, now=now)
    if problem is not None:
        raise problem.error(channel)
    identifier = params.get("identifier") or str(uuid.uuid4())
    if ledger.identifier_taken(identifier, now):
        raise _duplicate(identifier, channel)
    ledger.identifiers[identifier] = now
    ledger.pending.append(Pending(params["event_name"], identifier, dict(payload), timestamp, now, channel, True))
    return identifier, now


# processing (the clock rule) ---------------------------------------------------------------------
@dataclass
class _Report:
    meter: JSON | None
    start: float
    end: float
    errors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # code -> (message, identifier)

    def add(self, problem: Problem, identifier: str, received_at: float) -> None:
        self.start = min(self.start, received_at)
        self.end = max(self.end, received_at)
        self.errors.setdefault(problem.code, []).append((problem.sample_message, identifier))


def next_due(store: Store) -> float | None:
    pending = ledger_of(store).pending
    return min(item.received_at for item in pending) if pending else None


def process_due(store: Store, now: float) -> None:
    """Clock rule: process the queued events received by ``now``: count the valid ones, report the others
    (one thin event per meter, one ``no_meter_found`` for unknown event names), stamped ``now``."""
    ledger = ledger_of(store)
    due = [item for item in ledger.pending if item.received_at <= now]
    if not due:
        return
    ledger.pending = [item for item in ledger.pending if item.received_at > now]
    reports: dict[str, _Report] = {}
    for item in due:
        meter: JSON | None
        problem: Problem | None = None
        if item.checked:
            meter = _meter_named(store, item.event_name)
        else:
            meter, problem = check_event(
                store, "stream", item.event_name, item.payload, timestamp=item.timestamp, now=item.received_at
            )
            if problem is None and ledger.identifier_taken(item.identifier, item.received_at):
                continue  # a repeated identifier on the stream is dropped, not reported
            if problem is None:
                ledger.identifiers[item.identifier] = item.received_at
        if problem is None and meter is not None:
            problem = _customer_problem(store, meter, item.payload)
        if problem is not None:
            key = problem.meter["id"] if problem.meter is not None else ""
            report = reports.setdefault(key, _Report(problem.meter, item.received_at, item.received_at))
            report.add(problem, item.identifier, item.received_at)
        elif meter is not None:
            ledger.count(_usage(meter, item))
    for key in sorted(reports):
        _record_report(store, now, reports[key])


def _usage(meter: JSON, item: Pending) -> Usage:
    raw = item.payload.get(meter["value_settings"]["event_payload_key"], "1")
    return Usage(
        meter=meter["id"],
        event_name=item.event_name,
        customer=item.payload[meter["customer_mapping"]["event_payload_key"]],
        value=Decimal(raw) if _WHOLE.match(raw) else Decimal(1),
        timestamp=item.timestamp,
        identifier=item.identifier,
        received_at=item.received_at,
        source=item.source,
    )


def _record_report(store: Store, now: float, report: _Report) -> None:
    count = sum(len(samples) for samples in report.errors.values())
    window = VALIDATION_WINDOW_SECONDS
    start = math.floor(report.start / window) * window
    end = (math.floor(report.end / window) + 1) * window
    data: JSON = {
        "developer_message_summary": f"There {'is' if count == 1 else 'are'} {count} invalid "
        f"event{'' if count == 1 else 's'}",
        "reason": {
            "error_count": count,
            "error_types": [
                {
                    "code": code,
                    "error_count": len(samples),
                    "sample_errors": [
                        {"error_message": message, "request": {"identifier": identifier}}
                        for message, identifier in samples[:MAX_SAMPLES]
                    ],
                }
                for code, samples in sorted(report.errors.items())
            ],
        },
        "validation_end": format_time(end),
        "validation_start": format_time(start),
    }
    if report.meter is None:
        thin_events.record_thin(store, now, NO_METER_FOUND, None, data)
        return
    meter_id = report.meter["id"]
    related = thin_events.related("billing.meter", meter_id, f"/v1/billing/meters/{meter_id}")
    thin_events.record_thin(store, now, ERROR_REPORT, related, data)


# sessions ----------------------------------------------------------------------------------------
def authenticate_session(store: Store, token: str) -> None:
    """The meter event stream's authentication: a live session token (else Stripe's 401s)."""
    ledger = ledger_of(store)
    expires_at = ledger.sessions.get(token)
    if expires_at is None:
        if token.startswith(("sk_", "rk_")):
            message = (
                "The meter event stream takes a meter event session's authentication_token as its API key "
                "(POST /v2/billing/meter_event_session), not a secret key."
            )
        else:
            message = "Invalid API Key provided: the meter event session token is unknown."
        raise StripeError(401, message, saved=False)
    if store.clock.now_float() >= expires_at:
        raise StripeError(
            401,
            "The temporary session token has expired. Create a new meter event session.",
            type=SESSION_EXPIRED_TYPE,
            code=SESSION_EXPIRED_CODE,
            saved=False,
        )


# endpoints ---------------------------------------------------------------------------------------
@routes.post("/v1/billing/meter_events", params=V1_CREATE, returns=BILLING_METER_EVENT)
def create_v1(call: Call) -> JSON:
    timestamp = float(call.params.get("timestamp", call.now))
    identifier, _ = _accept_sync(call, "v1", call.params, timestamp)
    return {
        "object": "billing.meter_event",
        "created": call.now,
        "event_name": call.params["event_name"],
        "identifier": identifier,
        "livemode": False,
        "payload": dict(call.params["payload"]),
        "timestamp": int(timestamp),
    }


@routes.post("/v2/billing/meter_events", params=V2_CREATE, returns=V2_METER_EVENT, api="v2")
def create_v2(call: Call) -> JSON:
    timestamp = call.params.get("timestamp", call.store.clock.now_float())
    identifier, received_at = _accept_sync(call, "v2", call.params, timestamp)
    return {
        "object": "v2.billing.meter_event",
        "created": format_time(received_at),
        "event_name": call.params["event_name"],
        "identifier": identifier,
        "livemode": False,
        "payload": dict(call.params["payload"]),
        "timestamp": format_time(timestamp),
    }


@routes.post("/v2/billing/meter_event_session", params=SESSION_CREATE, returns=METER_EVENT_SESSION, api="v2")
def create_session(call: Call) -> JSON:
    now = call.store.clock.now_float()
    token = SESSION_TOKEN_PREFIX + random_token(48)
    expires_at = now + SESSION_SECONDS
    ledger_of(call.store).sessions[token] = expires_at
    return {
        "id": call.store.new_id(METER_EVENT_SESSION),
        "object": "v2.billing.meter_event_session",
        "authentication_token": token,
        "created": format_time(now),
        "expires_at": format_time(expires_at),
        "livemode": False,
    }


@routes.post(
    "/v2/billing/meter_event_stream",
    params=STREAM_CREATE,
    returns=METER_EVENT_STREAM,
    api="v2",
    auth="meter_event_session",
)
def create_stream(call: Call) -> JSON:
    events: list[dict[str, Any]] = call.params["events"]
    if not events:
        raise ParamError("events must hold at least one meter event.", param="events")
    now = call.store.clock.now_float()
    ledger = ledger_of(call.store)
    for event in events:
        ledger.pending.append(
            Pending(
                event["event_name"],
                event.get("identifier") or str(uuid.uuid4()),
                dict(event["payload"]),
                event.get("timestamp", now),
                now,
                "stream",
                False,
            )
        )
    return {}
