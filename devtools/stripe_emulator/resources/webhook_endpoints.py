"""Webhook endpoints (https://docs.stripe.com/api/webhook_endpoints): where recorded events are delivered.

- Create takes ``url``, ``enabled_events`` (event types, or ``["*"]`` for every event), ``api_version``
  (the version events are rendered in for this endpoint; ``null``: the account's default), ``description``
  and ``metadata``. ``connect=true`` (events of connected accounts) is not modeled.
- ``secret`` (``whsec_...``, the signing secret) is returned only by create, as on Stripe ("Only returned
  at creation", https://docs.stripe.com/api/webhook_endpoints/object#webhook_endpoint_object-secret);
  retrieve, list and update leave it out.
- Update takes ``url``, ``enabled_events``, ``disabled`` (``status`` ``enabled``/``disabled``),
  ``description`` and ``metadata``; ``api_version`` cannot change after creation.
- Delete answers ``{"id", "object": "webhook_endpoint", "deleted": true}``; the endpoint is then unknown
  (404 "No such webhook endpoint: 'we_...'").
- :func:`register` is the emulator-only registration with a chosen secret (``StripeEmulator.
  add_webhook_endpoint``, ``POST /_emulator/webhook_endpoints``): the local stack's receiver verifies with
  its configured secret.

``enabled_events`` take ``*`` or the event types Stripe sends (:mod:`.event_types`, from the SDK); thin
event destinations (``register(..., event_payload="thin")``) take thin event types.

Deliberate difference: Stripe refuses URLs that are not publicly reachable (``localhost``); the emulator,
which delivers locally, accepts any ``http(s)`` URL. The per-account endpoint limit is not modeled.
Delivery itself is :mod:`stripe_emulator.webhooks`; :func:`targets` says which endpoints an event goes to,
and :data:`DELIVERIES_ENDED` hears when an event's deliveries have all ended.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from ..errors import ParamError, StripeError, unsupported_parameter
from ..lists import list_params, paginate
from ..params import EXPAND, UNSET, Bool, ListOf, Metadata, Obj, Param, Str, apply_metadata
from ..routing import Call, RouteTable
from ..store import JSON, Store, random_token
from .event_types import SNAPSHOT_EVENT_TYPES, THIN_EVENT_TYPES
from .kinds import WEBHOOK_ENDPOINT

routes = RouteTable()

ALL_EVENTS = "*"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of generated signing secrets, not a secret
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")


class Url(Str):
    """An ``http``/``https`` URL with a host (Stripe also wants it public: the emulator delivers locally)."""

    def convert(self, raw: Any, path: str) -> Any:
        value: str = super().convert(raw, path)
        parts = urlsplit(value)
        if not parts.scheme:
            raise ParamError("Invalid URL: An explicit scheme (such as https) must be provided.", param=path)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParamError(f"Invalid URL: {value}", param=path)
        return value


class EventType(Str):
    """``*`` or one of ``catalog`` (the wording of the refusal is the emulator's)."""

    def __init__(self, catalog: frozenset[str]) -> None:
        super().__init__()
        self.catalog = catalog

    def convert(self, raw: Any, path: str) -> Any:
        value: str = super().convert(raw, path)
        if value != ALL_EVENTS and value not in self.catalog:
            raise ParamError(
                f"Invalid {path}: must be `*` or a type of event Stripe sends "
                f"(https://docs.stripe.com/api/events/types); `{value}` is not one",
                param=path,
            )
        return value


class EnabledEvents(ListOf):
    def __init__(self, *, required: bool = False, catalog: frozenset[str] = SNAPSHOT_EVENT_TYPES) -> None:
        super().__init__(EventType(catalog), required=required)

    def convert(self, raw: Any, path: str) -> Any:
        values: list[str] = super().convert(raw, path)
        if not values:
            raise ParamError(f"Invalid {path}: must contain at least one event type", param=path)
        return list(dict.fromkeys(values))


class ApiVersion(Str):
    def convert(self, raw: Any, path: str) -> Any:
        value: str = super().convert(raw, path)
        if not _API_VERSION.match(value):
            raise ParamError(f"Invalid api_version: {value}", param=path)
        return value


class ConnectFlag(Param):
    """``connect=false`` is the default; ``connect=true`` (connected accounts' events) is not modeled."""

    def convert(self, raw: Any, path: str) -> Any:
        value = Bool().convert(raw, path)
        if value:
            raise unsupported_parameter(path)
        return value


CREATE = Obj(
    {
        "api_version": ApiVersion(),
        "connect": ConnectFlag(),
        "description": Str(emptyable=True, max_length=5000),
        "enabled_events": EnabledEvents(required=True),
        "expand": EXPAND,
        "metadata": Metadata(),
        "url": Url(required=True, max_length=5000),
    }
)
UPDATE = Obj(
    {
        "description": Str(emptyable=True, max_length=5000),
        "disabled": Bool(),
        "enabled_events": EnabledEvents(),
        "expand": EXPAND,
        "metadata": Metadata(),
        "url": Url(max_length=5000),
    }
)
# The emulator-only registration of a thin event destination: the same fields, thin event types.
THIN_REGISTRATION = CREATE.extend(enabled_events=EnabledEvents(required=True, catalog=THIN_EVENT_TYPES))
RETRIEVE = Obj({"expand": EXPAND})
DELETE = Obj({})
LIST = list_params()


EVENT_PAYLOADS = ("snapshot", "thin")
PRIVATE_FIELDS = frozenset({"secret", "event_payload"})


def public(endpoint: JSON) -> JSON:
    """The endpoint as retrieve, list and update answer it: without its ``secret`` (nor the emulator's
    ``event_payload`` marker of thin event destinations)."""
    return {key: value for key, value in endpoint.items() if key not in PRIVATE_FIELDS}


def _insert(store: Store, now: int, params: dict[str, Any], secret: str, event_payload: str = "snapshot") -> JSON:
    description = params.get("description")
    endpoint: JSON = {
        "id": store.new_id(WEBHOOK_ENDPOINT),
        "object": "webhook_endpoint",
        "api_version": params.get("api_version"),
        "application": None,
        "created": now,
        "description": None if description is UNSET else description,
        "enabled_events": list(params["enabled_events"]),
        "livemode": False,
        "metadata": apply_metadata({}, params.get("metadata")),
        "secret": secret,
        "status": "enabled",
        "url": params["url"],
    }
    if event_payload != "snapshot":
        endpoint["event_payload"] = event_payload
    return store.insert(WEBHOOK_ENDPOINT, endpoint)


@routes.post("/v1/webhook_endpoints", params=CREATE, returns=WEBHOOK_ENDPOINT)
def create(call: Call) -> JSON:
    return _insert(call.store, call.now, call.params, SECRET_PREFIX + random_token(32))


def register(
    store: Store,
    url: str,
    secret: str,
    enabled_events: Iterable[str] = (ALL_EVENTS,),
    api_version: str | None = None,
    *,
    event_payload: str = "snapshot",
) -> JSON:
    """Emulator-only: an enabled endpoint signing with ``secret`` (returned with it, as create answers).

    ``event_payload="thin"`` makes it what Stripe calls an event destination with thin payloads
    (https://docs.stripe.com/event-destinations): it is sent the thin events (``v2.core.event``
    notifications) of the types it lists (``*``: every thin event), and no snapshot events; a
    ``"snapshot"`` endpoint (the default, and every ``/v1/webhook_endpoints`` one) gets snapshot events
    only, as on Stripe. Raises ``ValueError`` for what Stripe's create would refuse (bad URL, event type,
    API version).
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be a non-empty string (Stripe's look like whsec_...)")
    if event_payload not in EVENT_PAYLOADS:
        raise ValueError(f"event_payload must be one of {EVENT_PAYLOADS}")
    raw: dict[str, Any] = {"url": url, "enabled_events": list(enabled_events)}
    if api_version is not None:
        raw["api_version"] = api_version
    try:
        params = (THIN_REGISTRATION if event_payload == "thin" else CREATE).coerce(raw, "")
    except StripeError as error:
        raise ValueError(error.message) from None
    with store.lock:
        return _insert(store, store.clock.now(), params, secret, event_payload)


@routes.get("/v1/webhook_endpoints/{webhook_endpoint}", params=RETRIEVE, returns=WEBHOOK_ENDPOINT)
def retrieve(call: Call) -> JSON:
    return public(call.store.require(WEBHOOK_ENDPOINT, call.path["webhook_endpoint"]))


@routes.post("/v1/webhook_endpoints/{webhook_endpoint}", params=UPDATE, returns=WEBHOOK_ENDPOINT)
def update(call: Call) -> JSON:
    endpoint = call.store.require(WEBHOOK_ENDPOINT, call.path["webhook_endpoint"])
    params = call.params
    if "url" in params:
        endpoint["url"] = params["url"]
    if "enabled_events" in params:
        endpoint["enabled_events"] = list(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = None if params["description"] is UNSET else params["description"]
    if "metadata" in params:
        endpoint["metadata"] = apply_metadata(endpoint["metadata"], params["metadata"])
    if "disabled" in params:
        endpoint["status"] = "disabled" if params["disabled"] else "enabled"
    return public(call.store.save(WEBHOOK_ENDPOINT, endpoint))


@routes.delete("/v1/webhook_endpoints/{webhook_endpoint}", params=DELETE, returns=WEBHOOK_ENDPOINT)
def delete(call: Call) -> JSON:
    endpoint = call.store.require(WEBHOOK_ENDPOINT, call.path["webhook_endpoint"])
    call.store.remove(WEBHOOK_ENDPOINT, endpoint["id"])
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


@routes.get("/v1/webhook_endpoints", params=LIST, returns=WEBHOOK_ENDPOINT, is_list=True)
def list_endpoints(call: Call) -> JSON:
    return paginate(call, WEBHOOK_ENDPOINT, [public(endpoint) for endpoint in call.store.all(WEBHOOK_ENDPOINT)])


def subscribed(endpoint: JSON, event_type: str) -> bool:
    """Whether ``endpoint`` is enabled and takes ``event_type`` (``*``: every event)."""
    enabled: list[str] = endpoint["enabled_events"]
    return endpoint["status"] == "enabled" and (ALL_EVENTS in enabled or event_type in enabled)


def targets(store: Store, event_type: str, *, thin: bool = False) -> list[str]:
    """The ids of the endpoints an event of ``event_type`` recorded now goes to, oldest endpoint first:
    snapshot endpoints for snapshot events, thin event destinations for thin events.

    Only endpoints enabled when the event is created get it: "Stripe won't attempt to resend any events
    generated while the respective webhook endpoint is disabled" (https://docs.stripe.com/workbench/webhooks).
    """
    payload = "thin" if thin else "snapshot"
    with store.lock:
        oldest_first = reversed(store.all(WEBHOOK_ENDPOINT))
        return [
            endpoint["id"]
            for endpoint in oldest_first
            if endpoint.get("event_payload", "snapshot") == payload and subscribed(endpoint, event_type)
        ]


# Called as ``hook(store, event, moment)`` (store lock held) once every delivery of a snapshot event has
# ended, delivered or given up, at emulator time ``moment``: invoices note ``webhooks_delivered_at``.
DELIVERIES_ENDED: list[Callable[[Store, JSON, int], None]] = []
