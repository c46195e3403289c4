"""Events (https://docs.stripe.com/api/events): every state change the emulator makes is recorded.

:func:`record` stores a Stripe ``event`` — ``data.object`` a snapshot of the object after the change, as
the API renders it (:mod:`..rendering`: an invoice with the first page of its lines),
``data.previous_attributes`` (``*.updated`` events only) the previous values of what changed, ``request``
the API request that caused it (``{"id": null, "idempotency_key": null}`` for changes the emulator clock
makes, as Stripe reports automatic transitions) — and publishes it on the store's bus (:mod:`..bus`),
where webhook delivery (:mod:`..webhooks`) picks it up.

- Events render in the account's API version (``api_version``), whatever version the request used.
- ``pending_webhooks`` is the number of webhook endpoints the event is sent to that have not (yet)
  answered 2xx (https://docs.stripe.com/api/events/object#event_object-pending_webhooks): it starts at
  the number of endpoints subscribed when the event is recorded and drops as deliveries succeed; a
  delivery given up after its last retry keeps counting.
- ``delivery_success`` ("Filter events by whether all webhooks were successfully delivered. If false,
  events which are still pending or have failed all delivery attempts to a webhook endpoint will be
  returned", https://docs.stripe.com/api/events/list#list_events-delivery_success): ``false`` lists the
  events with ``pending_webhooks > 0``, ``true`` those with ``pending_webhooks == 0``. An event recorded
  while no endpoint wanted it is sent nowhere, has nothing pending or failed, and so counts as
  ``delivery_success=true`` (the reading both halves of Stripe's description agree on; not checked against
  Stripe, whose test accounts may hold endpoints of their own).
- ``type`` filters accept ``*`` wildcards (``invoice.*``); ``types`` takes up to 20 exact names; not both.
- Lists are newest first, like every list; Stripe keeps events 30 days (the emulator keeps them all).
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from ..errors import exclusive_parameters
from ..lists import list_params, paginate
from ..params import EXPAND, Bool, ListOf, Obj, RangeFilter, Str, in_range
from ..rendering import render
from ..routing import Call, RouteTable
from ..store import JSON
from . import webhook_endpoints
from .event_types import SNAPSHOT_EVENT_TYPES
from .kinds import EVENT

routes = RouteTable()

API_VERSION = "2026-10-28.endive"
MAX_TYPES = 20

RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(
    created=RangeFilter(),
    delivery_success=Bool(),
    type=Str(),
    types=ListOf(Str(), max_items=MAX_TYPES),
)


def previous_attributes(old: Any, new: Any) -> JSON:
    """What changed from ``old`` to ``new``, as Stripe reports it: the previous value of each changed
    top-level field; for hashes (``metadata``, ``status_transitions``) only the changed keys, with
    ``None`` for keys that did not exist before. Lists (``items``, ``lines``) are reported whole."""
    changed: JSON = {}
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and before.get("object") != "list":
            changed[key] = previous_attributes(before, after)
        else:
            changed[key] = copy.deepcopy(before)
    return changed


def record(call: Call, event_type: str, obj: JSON, previous: JSON | None = None) -> JSON:
    """Store and publish an event about ``obj`` (already in its new state).

    ``previous`` is the object before the change, for ``*.updated`` events; an update that changed
    nothing records nothing. A type Stripe does not send is a bug in the emulator (an internal error).
    """
    if event_type not in SNAPSHOT_EVENT_TYPES:
        raise ValueError(f"Stripe sends no {event_type!r} event (see resources/event_types.py)")
    data: JSON = {"object": render(copy.deepcopy(obj))}
    if previous is not None:
        changes = previous_attributes(render(copy.deepcopy(previous)), data["object"])
        if not changes:
            return {}
        data["previous_attributes"] = changes
    event: JSON = {
        "id": call.store.new_id(EVENT),
        "object": "event",
        "api_version": API_VERSION,
        "created": call.now,
        "data": data,
        "livemode": False,
        "pending_webhooks": len(webhook_endpoints.targets(call.store, event_type)),
        "request": {"id": call.request_id, "idempotency_key": call.idempotency_key},
        "type": event_type,
    }
    stored = call.store.insert(EVENT, event)
    call.store.bus.publish(copy.deepcopy(stored))
    return stored


@routes.get("/v1/events/{id}", params=RETRIEVE, returns=EVENT)
def retrieve(call: Call) -> JSON:
    return call.store.require(EVENT, call.path["id"])


@routes.get("/v1/events", params=LIST, returns=EVENT, is_list=True)
def list_events(call: Call) -> JSON:
    params = call.params
    if "type" in params and "types" in params:
        raise exclusive_parameters("type", "types")
    pattern = params.get("type")
    types = set(params["types"]) if "types" in params else None
    delivered = params.get("delivery_success")

    def matches(event: JSON) -> bool:
        if pattern is not None and not fnmatch.fnmatchcase(event["type"], pattern):
            return False
        if types is not None and event["type"] not in types:
            return False
        if delivered is not None and (event["pending_webhooks"] == 0) != delivered:
            return False
        return in_range(event["created"], params.get("created"))

    return paginate(call, EVENT, call.store.all(EVENT, matches))
