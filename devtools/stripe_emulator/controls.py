"""Test controls under ``/_emulator`` (no authentication; JSON in and out).

==========================  ===================================================================
``POST /_emulator/reset``    clear objects, faults, idempotency keys, the request log, the clock,
                             webhook endpoints, queued webhook deliveries and their log
``GET /_emulator/clock``     ``{"now": unix}``
``POST /_emulator/clock``    ``{"advance_seconds": n}`` or ``{"now": unix}`` (forward only); applies
                             what became due (auto-advanced invoices, ``cancel_at``)
``GET /_emulator/faults``    the faults still armed
``POST /_emulator/faults``   arm one: ``{"path_prefix", "method", "status", "count", "hang_seconds",
                             "should_retry", "error_code", "idempotent_replay"}``
``DELETE /_emulator/faults`` disarm all
``GET /_emulator/requests``  ``{"data": [{"method", "path", "status", "idempotency_key", "time",
                             "request_id", "idempotent_replayed", "internal_error", "error",
                             "traceback", "api_key"}, ...]}`` in arrival order (the key masked)
``DELETE /_emulator/requests`` clear the log
``GET /_emulator/internal_errors`` ``{"data": [{"source", "method", "path", "request_id", "time", "error",
                             "traceback"}, ...]}``: the emulator's own failures since the last reset
``GET /_emulator/events``    ``{"data": [event, ...]}``: every recorded Stripe event, oldest first
``GET /_emulator/thin_events`` ``{"data": [v2 event, ...]}``: every thin event (with ``data``), oldest first
``GET /_emulator/meter_events`` ``{"data": [{"meter", "event_name", "customer", "value", "timestamp",
                             "identifier", "received_at", "source"}, ...]}``: the counted meter events
``GET /_emulator/meter_processing_lag`` ``{"seconds": s}``
``POST /_emulator/meter_processing_lag`` ``{"seconds": s}``: summaries and invoices see a meter event s
                             seconds after it arrived (default 0; reset sets it back)
``GET /_emulator/payment_settings`` ``{"retry_days": [3, 5, 7], "subscription_status": "canceled",
                             "invoice_status": "past_due"}``: the account's failed-payment settings
``POST /_emulator/payment_settings`` some of those keys: change them (reset restores the defaults)
``GET /_emulator/health``    ``{"ok": true}``
``POST /_emulator/customers`` ``{"id": "cus_...", "name": ...}``: a customer with a chosen id (seeding)
``POST /_emulator/webhook_endpoints`` ``{"url", "secret", "enabled_events": ["*"], "api_version": null,
                             "event_payload": "snapshot"}``: a webhook endpoint signing with a chosen
                             secret (answered with it); ``"thin"``: a thin event destination
``GET /_emulator/webhook_deliveries`` ``{"data": [{"event_id", "type", "endpoint", "url", "attempt",
                             "status", "error", "delivered", "time", "next_retry_in"}, ...]}``, oldest first
``POST /_emulator/webhook_deliveries/wait`` ``{"timeout": 5}``: ``{"idle": true}`` once no delivery is
                             queued or in flight, ``{"idle": false}`` if some still are after the timeout
==========================  ===================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .faults import FaultSpecError
from .resources import customers, webhook_endpoints
from .wire import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from .app import EmulatorApp

Control = Callable[["EmulatorApp", dict[str, Any]], Any]


class ControlError(ValueError):
    pass


def _reset(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    app.reset()
    return {"ok": True}


def _get_clock(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"now": app.store.clock.now()}


def _set_clock(app: EmulatorApp, body: dict[str, Any]) -> Any:
    number = (int, float)
    if set(body) == {"advance_seconds"} and isinstance(body["advance_seconds"], number):
        now = app.advance_clock(body["advance_seconds"])
    elif set(body) == {"now"} and isinstance(body["now"], number):
        now = app.set_clock(body["now"])
    else:
        raise ControlError('send {"advance_seconds": n} or {"now": unix_time}')
    return {"now": now}


def _list_faults(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.faults.active()}


def _add_fault(app: EmulatorApp, body: dict[str, Any]) -> Any:
    return app.faults.add(body).as_json()


def _clear_faults(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    app.faults.clear()
    return {"ok": True}


def _requests(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.log.entries()}


def _clear_requests(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    app.log.clear()
    return {"ok": True}


def _internal_errors(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.internal_errors.entries()}


def _seed_customer(app: EmulatorApp, body: dict[str, Any]) -> Any:
    if not isinstance(body.get("id"), str):
        raise ControlError('send {"id": "cus_...", "name": "..."}')
    return customers.seed(app.store, body["id"], body.get("name"))


def _events(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.recorded_events()}


def _thin_events(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.thin_events()}


def _meter_events(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.counted_meter_events()}


def _get_processing_lag(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"seconds": app.meter_processing_lag()}


def _set_processing_lag(app: EmulatorApp, body: dict[str, Any]) -> Any:
    if set(body) != {"seconds"}:
        raise ControlError('send {"seconds": s}')
    return {"seconds": app.set_meter_processing_lag(body["seconds"])}


def _get_payment_settings(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return app.payment_settings()


def _set_payment_settings(app: EmulatorApp, body: dict[str, Any]) -> Any:
    return app.set_payment_settings(body)


def _add_webhook_endpoint(app: EmulatorApp, body: dict[str, Any]) -> Any:
    unknown = set(body) - {"url", "secret", "enabled_events", "api_version", "event_payload"}
    if unknown or not isinstance(body.get("url"), str) or not isinstance(body.get("secret"), str):
        raise ControlError('send {"url": "http://...", "secret": "whsec_...", "enabled_events": ["*"]}')
    enabled_events = body.get("enabled_events", ["*"])
    api_version = body.get("api_version")
    if not isinstance(enabled_events, list) or not all(isinstance(name, str) for name in enabled_events):
        raise ControlError('enabled_events must be a list of event types (or ["*"])')
    if api_version is not None and not isinstance(api_version, str):
        raise ControlError("api_version must be a string or null")
    event_payload = body.get("event_payload", "snapshot")
    if not isinstance(event_payload, str):
        raise ControlError('event_payload is "snapshot" or "thin"')
    return webhook_endpoints.register(
        app.store, body["url"], body["secret"], enabled_events, api_version, event_payload=event_payload
    )


def _webhook_deliveries(app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"data": app.webhooks.deliveries()}


def _wait_for_deliveries(app: EmulatorApp, body: dict[str, Any]) -> Any:
    timeout = body.get("timeout", 5.0)
    if set(body) - {"timeout"} or isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ControlError('send {"timeout": seconds}')
    return {"idle": app.webhooks.wait(float(timeout))}


def _health(_app: EmulatorApp, _body: dict[str, Any]) -> Any:
    return {"ok": True}


CONTROLS: dict[tuple[str, str], Control] = {
    ("POST", "/_emulator/reset"): _reset,
    ("GET", "/_emulator/clock"): _get_clock,
    ("POST", "/_emulator/clock"): _set_clock,
    ("GET", "/_emulator/faults"): _list_faults,
    ("POST", "/_emulator/faults"): _add_fault,
    ("DELETE", "/_emulator/faults"): _clear_faults,
    ("GET", "/_emulator/requests"): _requests,
    ("DELETE", "/_emulator/requests"): _clear_requests,
    ("GET", "/_emulator/internal_errors"): _internal_errors,
    ("GET", "/_emulator/events"): _events,
    ("GET", "/_emulator/thin_events"): _thin_events,
    ("GET", "/_emulator/meter_events"): _meter_events,
    ("GET", "/_emulator/meter_processing_lag"): _get_processing_lag,
    ("POST", "/_emulator/meter_processing_lag"): _set_processing_lag,
    ("GET", "/_emulator/payment_settings"): _get_payment_settings,
    ("POST", "/_emulator/payment_settings"): _set_payment_settings,
    ("GET", "/_emulator/health"): _health,
    ("POST", "/_emulator/customers"): _seed_customer,
    ("POST", "/_emulator/webhook_endpoints"): _add_webhook_endpoint,
    ("GET", "/_emulator/webhook_deliveries"): _webhook_deliveries,
    ("POST", "/_emulator/webhook_deliveries/wait"): _wait_for_deliveries,
}


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse.json(status, {"error": {"type": "invalid_request_error", "message": message}})


def handle_control(app: EmulatorApp, request: HttpRequest) -> HttpResponse:
    control = CONTROLS.get((request.method, request.path.rstrip("/")))
    if control is None:
        return _error(404, f"Unknown emulator control: {request.method} {request.path}")
    try:
        body = json.loads(request.body) if request.body.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "The body must be JSON.")
    if not isinstance(body, dict):
        return _error(400, "The body must be a JSON object.")
    try:
        return HttpResponse.json(200, control(app, body))
    except (ControlError, FaultSpecError, ValueError) as error:
        return _error(400, str(error))
