"""Billing meters (https://docs.stripe.com/api/billing/meter).

- ``event_name`` identifies the meter that meter events report to: one meter per event name, and a
  deactivated meter keeps its name.
- ``customer_mapping`` defaults to ``{"type": "by_id", "event_payload_key": "stripe_customer_id"}`` and
  ``value_settings`` to ``{"event_payload_key": "value"}``.
- Deactivating sets ``status: inactive`` and ``status_transitions.deactivated_at``; a deactivated meter
  cannot back a new price and accepts no events until reactivated.
- ``event_time_window`` (``hour``/``day``) makes the meter take pre-aggregated events: only the most
  recent event of each window counts. Meter events and summaries: :mod:`.meter_events`,
  :mod:`.meter_event_summaries`.
"""

from __future__ import annotations

from ..errors import invalid_request
from ..lists import list_params, paginate
from ..params import EXPAND, Enum, Obj, Str
from ..routing import Call, RouteTable
from ..store import JSON
from .kinds import BILLING_METER

routes = RouteTable()

CREATE = Obj(
    {
        "customer_mapping": Obj(
            {"event_payload_key": Str(required=True, max_length=100), "type": Enum("by_id", required=True)}
        ),
        "default_aggregation": Obj({"formula": Enum("count", "last", "sum", required=True)}, required=True),
        "display_name": Str(required=True, max_length=250),
        "event_name": Str(required=True, max_length=100),
        "event_time_window": Enum("day", "hour"),
        "expand": EXPAND,
        "value_settings": Obj({"event_payload_key": Str(required=True, max_length=100)}),
    }
)
UPDATE = Obj({"display_name": Str(max_length=250), "expand": EXPAND})
RETRIEVE = Obj({"expand": EXPAND})
STATUS_CHANGE = Obj({"expand": EXPAND})
LIST = list_params(status=Enum("active", "inactive"))


@routes.post("/v1/billing/meters", params=CREATE, returns=BILLING_METER)
def create(call: Call) -> JSON:
    params = call.params
    event_name = params["event_name"]
    holder = call.store.all(BILLING_METER, lambda meter: meter["event_name"] == event_name)
    if holder:
        raise invalid_request(
            f"A meter with the event name `{event_name}` already exists ({holder[0]['id']}).",
            param="event_name",
        )
    mapping = params.get("customer_mapping", {"event_payload_key": "stripe_customer_id", "type": "by_id"})
    value_settings = params.get("value_settings", {"event_payload_key": "value"})
    meter: JSON = {
        "id": call.store.new_id(BILLING_METER),
        "object": "billing.meter",
        "created": call.now,
        "customer_mapping": {"event_payload_key": mapping["event_payload_key"], "type": mapping["type"]},
        "default_aggregation": {"formula": params["default_aggregation"]["formula"]},
        "display_name": params["display_name"],
        "event_name": event_name,
        "event_time_window": params.get("event_time_window"),
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": call.now,
        "value_settings": {"event_payload_key": value_settings["event_payload_key"]},
    }
    return call.store.insert(BILLING_METER, meter)


@routes.get("/v1/billing/meters/{id}", params=RETRIEVE, returns=BILLING_METER)
def retrieve(call: Call) -> JSON:
    return call.store.require(BILLING_METER, call.path["id"])


@routes.post("/v1/billing/meters/{id}", params=UPDATE, returns=BILLING_METER)
def update(call: Call) -> JSON:
    meter = call.store.require(BILLING_METER, call.path["id"])
    if "display_name" in call.params:
        meter["display_name"] = call.params["display_name"]
        meter["updated"] = call.now
    return call.store.save(BILLING_METER, meter)


@routes.post("/v1/billing/meters/{id}/deactivate", params=STATUS_CHANGE, returns=BILLING_METER)
def deactivate(call: Call) -> JSON:
    meter = call.store.require(BILLING_METER, call.path["id"])
    if meter["status"] != "inactive":
        meter["status"] = "inactive"
        meter["status_transitions"] = {"deactivated_at": call.now}
        meter["updated"] = call.now
    return call.store.save(BILLING_METER, meter)


@routes.post("/v1/billing/meters/{id}/reactivate", params=STATUS_CHANGE, returns=BILLING_METER)
def reactivate(call: Call) -> JSON:
    meter = call.store.require(BILLING_METER, call.path["id"])
    if meter["status"] != "active":
        meter["status"] = "active"
        meter["status_transitions"] = {"deactivated_at": None}
        meter["updated"] = call.now
    return call.store.save(BILLING_METER, meter)


@routes.get("/v1/billing/meters", params=LIST, returns=BILLING_METER, is_list=True)
def list_meters(call: Call) -> JSON:
    status = call.params.get("status")
    return paginate(
        call,
        BILLING_METER,
        call.store.all(BILLING_METER, lambda meter: status is None or meter["status"] == status),
    )
