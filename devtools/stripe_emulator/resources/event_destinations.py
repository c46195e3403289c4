"""Event destinations of type ``amazon_eventbridge`` (API v2, https://docs.stripe.com/api/v2/core/event-destinations):
Stripe events put on an Amazon EventBridge partner event source (https://docs.stripe.com/event-destinations/eventbridge).

- Create (``POST /v2/core/event_destinations``) takes ``name``, ``type: "amazon_eventbridge"``,
  ``event_payload`` (``snapshot`` or ``thin``), ``enabled_events`` (event types of that payload, or ``*``),
  ``amazon_eventbridge {aws_account_id, aws_region}``, and optionally ``description``, ``metadata``,
  ``events_from`` (only ``@self``: connected accounts are not modeled), ``snapshot_api_version`` (snapshot
  only: "do not provide this for thin events") and ``include``. It creates the partner event source in AWS
  first (:mod:`..eventbridge`); if AWS cannot be reached nothing is created and the answer is a 500 saying so.
  ``type: webhook_endpoint`` / ``azure_event_grid`` are not modeled (thin webhook destinations are
  ``StripeEmulator.add_webhook_endpoint(..., event_payload="thin")``).
- The object: ``id`` (``ed_test_61...``), ``object: "v2.core.event_destination"``, ``amazon_eventbridge
  {aws_account_id, aws_event_source_arn, aws_event_source_status}``, ``created``/``updated`` (RFC 3339),
  ``description``, ``enabled_events``, ``event_payload``, ``events_from`` (``["@self"]``), ``livemode``,
  ``metadata``, ``name``, ``snapshot_api_version`` (``null`` for thin), ``status`` (``enabled``/``disabled``),
  ``status_details`` (``{"disabled": {"reason": "user"}}`` once disabled, else ``null``), ``type``
  (shape of https://docs.stripe.com/api/v2/core/event-destinations/object and the SDK's ``EventDestination``).
- ``aws_event_source_status`` is ``pending`` until the source has an event bus, then ``active`` (``unknown``
  when AWS cannot be asked): retrieve, list and every delivery look it up again. A source still pending 7 days
  after the destination's creation (emulator clock) is deleted, as AWS does, and the destination disabled:
  ``aws_event_source_status: "deleted"``, ``status_details.disabled.reason: "no_aws_event_source_exists"``
  ("If you don't associate it within this time frame, Amazon automatically deletes the pending event source.
  After an event source is deleted, your Stripe event destination is automatically disabled and you must
  create a new destination", https://docs.stripe.com/event-destinations/eventbridge).
- Update takes ``name``, ``description``, ``enabled_events`` and ``metadata`` (``type``, ``event_payload``,
  the AWS account and region cannot change); ``disable``/``enable`` set ``status``; delete deletes the partner
  event source too and answers ``{"id", "object"}`` (the SDK's ``DeletedObject``).
- List answers ``{"data", "next_page_url", "previous_page_url"}``, newest first, ``limit`` per page (default
  20, at most 100); ``next_page_url`` carries the ``page`` to ask next.

Delivery (:mod:`..webhooks`, the same worker and log as webhooks): every event of a type a destination
takes, recorded while the destination is enabled, is put on its source; not delivered while the source is
not ``active``. ``ping`` is not modeled.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ParamError, StripeError, invalid_request, missing_parameter
from ..eventbridge import EventBridgeError, region_of, source_arn, source_name, sources_of
from ..params import UNSET, Enum, Int, ListOf, Metadata, Obj, Str, Unsupported, apply_metadata
from ..rfc3339 import format_time, parse_time
from ..routing import Call, RouteTable
from ..store import JSON, Store
from .event_types import SNAPSHOT_EVENT_TYPES, THIN_EVENT_TYPES
from .events import API_VERSION
from .kinds import EVENT_DESTINATION
from .webhook_endpoints import ALL_EVENTS, ApiVersion, EnabledEvents, subscribed

routes = RouteTable()

CATALOGS = {"snapshot": SNAPSHOT_EVENT_TYPES, "thin": THIN_EVENT_TYPES}
ASSOCIATION_DEADLINE = 7 * 86_400  # seconds after creation
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_AWS_ACCOUNT = re.compile(r"^\d{12}$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class Pattern(Str):
    def __init__(self, pattern: re.Pattern[str], what: str, *, required: bool = False) -> None:
        super().__init__(required=required)
        self.pattern = pattern
        self.what = what

    def convert(self, raw: Any, path: str) -> Any:
        value: str = super().convert(raw, path)
        if not self.pattern.match(value):
            raise ParamError(f"Invalid {path}: must be {self.what}", param=path)
        return value


class DestinationType(Str):
    """``amazon_eventbridge``; Stripe's other types exist but are not modeled here."""

    def convert(self, raw: Any, path: str) -> Any:
        value: str = Enum("amazon_eventbridge", "azure_event_grid", "webhook_endpoint").convert(raw, path)
        if value != "amazon_eventbridge":
            raise ParamError(
                f"The Stripe emulator does not model event destinations of type `{value}` (Stripe accepts them); "
                "only `amazon_eventbridge`.",
                param=path,
                code="emulator_unsupported_parameter",
            )
        return value


INCLUDE = ListOf(Enum("webhook_endpoint.signing_secret", "webhook_endpoint.url"))
EVERY_TYPE = SNAPSHOT_EVENT_TYPES | THIN_EVENT_TYPES  # narrowed to the destination's payload by _check_events
CREATE = Obj(
    {
        "amazon_eventbridge": Obj(
            {
                "aws_account_id": Pattern(_AWS_ACCOUNT, "a 12-digit AWS account id", required=True),
                "aws_region": Pattern(_AWS_REGION, "an AWS region such as us-east-1", required=True),
            }
        ),
        "azure_event_grid": Unsupported(),
        "description": Str(max_length=5000),
        "enabled_events": EnabledEvents(required=True, catalog=EVERY_TYPE),
        "event_payload": Enum("snapshot", "thin", required=True),
        "events_from": ListOf(Enum("@self")),
        "include": INCLUDE,
        "metadata": Metadata(),
        "name": Str(required=True, max_length=5000),
        "snapshot_api_version": ApiVersion(),
        "type": DestinationType(required=True),
        "webhook_endpoint": Unsupported(),
    }
)
UPDATE = Obj(
    {
        "description": Str(emptyable=True, max_length=5000),
        "enabled_events": EnabledEvents(catalog=EVERY_TYPE),
        "include": INCLUDE,
        "metadata": Metadata(),
        "name": Str(max_length=5000),
        "webhook_endpoint": Unsupported(),
    }
)
RETRIEVE = Obj({"include": INCLUDE})
LIST = Obj({"include": INCLUDE, "limit": Int(min=1, max=MAX_PAGE_SIZE), "page": Str()})
NO_PARAMS = Obj({})


def _check_events(events: list[str], payload: str) -> list[str]:
    """Only types of the destination's payload: snapshot types for snapshot, thin (``v1.…``) for thin."""
    wrong = [name for name in events if name != ALL_EVENTS and name not in CATALOGS[payload]]
    if wrong:
        raise invalid_request(
            f"Invalid enabled_events: `{wrong[0]}` is not a {payload} event type (event_payload is `{payload}`)",
            param="enabled_events",
        )
    return events


def refresh(store: Store, destination: JSON) -> JSON:
    """Ask AWS whether the destination's source is associated yet; save and return the destination. A deleted
    source stays deleted."""
    bridge = destination["amazon_eventbridge"]
    if bridge["aws_event_source_status"] == "deleted":
        return destination
    arn = bridge["aws_event_source_arn"]
    status = sources_of(store).status(source_name(destination["id"]), region_of(arn))
    if status != bridge["aws_event_source_status"]:
        bridge["aws_event_source_status"] = status
        with store.lock:
            if store.exists(EVENT_DESTINATION, destination["id"]):
                current = store.get(EVENT_DESTINATION, destination["id"])
                assert current is not None
                current["amazon_eventbridge"]["aws_event_source_status"] = status
                store.save(EVENT_DESTINATION, current)
    return destination


@routes.post("/v2/core/event_destinations", params=CREATE, returns=EVENT_DESTINATION, api="v2")
def create(call: Call) -> JSON:
    params = call.params
    payload: str = params["event_payload"]
    if "amazon_eventbridge" not in params:
        raise missing_parameter("amazon_eventbridge")
    if "snapshot_api_version" in params and payload == "thin":
        raise invalid_request(
            "snapshot_api_version is for snapshot events only; do not provide it for thin events",
            param="snapshot_api_version",
        )
    events = _check_events(params["enabled_events"], payload)
    account: str = params["amazon_eventbridge"]["aws_account_id"]
    region: str = params["amazon_eventbridge"]["aws_region"]
    destination_id = call.store.new_id(EVENT_DESTINATION)
    name = source_name(destination_id)
    try:
        sources_of(call.store).create(name, account, region)
    except EventBridgeError as error:
        raise StripeError(
            500,
            f"The Stripe emulator could not create the partner event source {name} in AWS account {account} "
            f"({region}): {error}. Is AWS reachable (StripeEmulator(aws_endpoint_url=...), --aws-endpoint-url, "
            "AWS_ENDPOINT_URL)?",
            type="api_error",
            saved=False,
        ) from error
    moment = format_time(call.store.clock.now_float())
    destination: JSON = {
        "id": destination_id,
        "object": "v2.core.event_destination",
        "amazon_eventbridge": {
            "aws_account_id": account,
            "aws_event_source_arn": source_arn(region, name),
            "aws_event_source_status": "pending",
        },
        "created": moment,
        "description": params.get("description", ""),
        "enabled_events": events,
        "event_payload": payload,
        "events_from": list(params.get("events_from") or ["@self"]),
        "livemode": False,
        "metadata": apply_metadata({}, params.get("metadata")),
        "name": params["name"],
        "snapshot_api_version": params.get("snapshot_api_version", API_VERSION) if payload == "snapshot" else None,
        "status": "enabled",
        "status_details": None,
        "type": params["type"],
        "updated": moment,
    }
    return call.store.insert(EVENT_DESTINATION, destination)


@routes.get("/v2/core/event_destinations/{id}", params=RETRIEVE, returns=EVENT_DESTINATION, api="v2")
def retrieve(call: Call) -> JSON:
    return refresh(call.store, call.store.require(EVENT_DESTINATION, call.path["id"]))


@routes.get("/v2/core/event_destinations", params=LIST, returns=EVENT_DESTINATION, api="v2")
def list_destinations(call: Call) -> JSON:
    everything = call.store.all(EVENT_DESTINATION)
    start = 0
    if "page" in call.params:
        ids = [destination["id"] for destination in everything]
        if call.params["page"] not in ids:
            raise invalid_request(f"Invalid page: {call.params['page']}", param="page")
        start = ids.index(call.params["page"])
    limit: int = call.params.get("limit", DEFAULT_PAGE_SIZE)
    page = everything[start : start + limit]
    following = everything[start + limit : start + limit + 1]
    next_url = f"{call.url}?limit={limit}&page={following[0]['id']}" if following else None
    return {
        "data": [refresh(call.store, destination) for destination in page],
        "next_page_url": next_url,
        "previous_page_url": None,
    }


@routes.post("/v2/core/event_destinations/{id}", params=UPDATE, returns=EVENT_DESTINATION, api="v2")
def update(call: Call) -> JSON:
    destination = call.store.require(EVENT_DESTINATION, call.path["id"])
    params = call.params
    if "name" in params:
        destination["name"] = params["name"]
    if "description" in params:
        destination["description"] = "" if params["description"] is UNSET else params["description"]
    if "enabled_events" in params:
        destination["enabled_events"] = _check_events(params["enabled_events"], destination["event_payload"])
    if "metadata" in params:
        destination["metadata"] = apply_metadata(destination["metadata"], params["metadata"])
    destination["updated"] = format_time(call.store.clock.now_float())
    return refresh(call.store, call.store.save(EVENT_DESTINATION, destination))


def _set_status(call: Call, status: str) -> JSON:
    destination = call.store.require(EVENT_DESTINATION, call.path["id"])
    destination["status"] = status
    destination["status_details"] = {"disabled": {"reason": "user"}} if status == "disabled" else None
    destination["updated"] = format_time(call.store.clock.now_float())
    return refresh(call.store, call.store.save(EVENT_DESTINATION, destination))


@routes.post("/v2/core/event_destinations/{id}/disable", params=NO_PARAMS, returns=EVENT_DESTINATION, api="v2")
def disable(call: Call) -> JSON:
    return _set_status(call, "disabled")


@routes.post("/v2/core/event_destinations/{id}/enable", params=NO_PARAMS, returns=EVENT_DESTINATION, api="v2")
def enable(call: Call) -> JSON:
    return _set_status(call, "enabled")


@routes.delete("/v2/core/event_destinations/{id}", params=NO_PARAMS, returns=EVENT_DESTINATION, api="v2")
def delete(call: Call) -> JSON:
    destination = call.store.require(EVENT_DESTINATION, call.path["id"])
    bridge = destination["amazon_eventbridge"]
    region = region_of(bridge["aws_event_source_arn"])
    sources_of(call.store).delete(source_name(destination["id"]), bridge["aws_account_id"], region)
    call.store.remove(EVENT_DESTINATION, destination["id"])
    return {"id": destination["id"], "object": "v2.core.event_destination"}


def _deadline(destination: JSON) -> float | None:
    if destination["amazon_eventbridge"]["aws_event_source_status"] != "pending":
        return None
    return parse_time(destination["created"]) + ASSOCIATION_DEADLINE


def expire_next_due(store: Store) -> float | None:
    times = [at for destination in store.scan(EVENT_DESTINATION) if (at := _deadline(destination)) is not None]
    return min(times) if times else None


def expire_due(store: Store, now: float) -> None:
    """Clock rule: a partner event source still not associated 7 days after its destination's creation is
    deleted (as AWS deletes it) and the destination disabled, at the time it was due."""
    for destination in store.all(EVENT_DESTINATION):
        deadline = _deadline(destination)
        if deadline is None or deadline > now:
            continue
        bridge = refresh(store, destination)["amazon_eventbridge"]
        if bridge["aws_event_source_status"] != "pending":  # associated at the last moment (or AWS unreachable)
            continue
        sources_of(store).delete(
            source_name(destination["id"]), bridge["aws_account_id"], region_of(bridge["aws_event_source_arn"])
        )
        bridge["aws_event_source_status"] = "deleted"
        destination["status"] = "disabled"
        destination["status_details"] = {"disabled": {"reason": "no_aws_event_source_exists"}}
        destination["updated"] = format_time(deadline)
        store.save(EVENT_DESTINATION, destination)


def targets(store: Store, event_type: str, *, thin: bool) -> list[str]:
    """The ids of the enabled destinations of this payload (thin or snapshot) that take ``event_type``,
    oldest first: those an event recorded now is put to."""
    payload = "thin" if thin else "snapshot"
    with store.lock:
        return [
            destination["id"]
            for destination in reversed(store.all(EVENT_DESTINATION))
            if destination["event_payload"] == payload and subscribed(destination, event_type)
        ]
