"""Thin events (``v2.core.event``, https://docs.stripe.com/api/v2/core/events/object and
https://docs.stripe.com/event-destinations#thin-payload).

Some changes are announced with a *thin* event rather than a snapshot ``event``: an unversioned envelope
with the event's ``id``, ``type``, ``created`` (RFC 3339), ``livemode``, ``context``, ``reason`` and a
``related_object {id, type, url}`` to fetch; the details (``data``) come with ``GET /v2/core/events/{id}``.
The emulator records one kind so far, the meter errors of usage validated asynchronously
(:mod:`.meter_events`): ``v1.billing.meter.error_report_triggered`` (related object: the meter) and
``v1.billing.meter.no_meter_found``, which has no meter to relate to and so no ``related_object`` at all
(stripe-python's ``V1BillingMeterNoMeterFoundEvent`` and its notification declare none, where
``V1BillingMeterErrorReportTriggeredEvent`` declares one).

Thin events are kept apart from snapshot events (``GET /v1/events`` does not list them), published on the
store's bus like them, and delivered by :mod:`..webhooks` to the endpoints registered for thin payloads
(:func:`.webhook_endpoints.register` with ``event_payload="thin"``, Stripe's event destinations), as the
notification: the stored event without ``data`` and ``changes``.
"""

from __future__ import annotations

import copy
from typing import Any

from ..params import Obj
from ..rfc3339 import format_time
from ..routing import Call, RouteTable
from ..store import JSON, Store
from .event_types import THIN_EVENT_TYPES
from .kinds import THIN_EVENT

routes = RouteTable()

RETRIEVE = Obj({})
NOTIFICATION_FIELDS = ("id", "object", "context", "created", "livemode", "reason", "related_object", "type")


def related(object_type: str, object_id: str, url: str) -> JSON:
    return {"id": object_id, "type": object_type, "url": url}


def record_thin(store: Store, moment: float, event_type: str, related_object: JSON | None, data: JSON) -> JSON:
    """Store and publish a thin event (``reason: null``: the changes it reports are Stripe's own); without
    ``related_object`` when there is none (``None``)."""
    if event_type not in THIN_EVENT_TYPES:
        raise ValueError(f"Stripe sends no {event_type!r} thin event (see resources/event_types.py)")
    event: JSON = {
        "id": store.new_id(THIN_EVENT),
        "object": "v2.core.event",
        "changes": None,
        "context": None,
        "created": format_time(moment),
        "data": copy.deepcopy(data),
        "livemode": False,
        "reason": None,
        "type": event_type,
    }
    if related_object is not None:
        event["related_object"] = copy.deepcopy(related_object)
    stored = store.insert(THIN_EVENT, event)
    store.bus.publish(copy.deepcopy(stored))
    return stored


def notification(event: JSON) -> JSON:
    """What an event destination is sent: the envelope, without ``data`` (fetch the event for it)."""
    return {name: copy.deepcopy(event[name]) for name in NOTIFICATION_FIELDS if name in event}


def is_thin(event: dict[str, Any]) -> bool:
    return event.get("object") == "v2.core.event"


@routes.get("/v2/core/events/{id}", params=RETRIEVE, returns=THIN_EVENT, api="v2")
def retrieve(call: Call) -> JSON:
    return call.store.require(THIN_EVENT, call.path["id"])
