"""Subscription items (https://docs.stripe.com/api/subscription_items).

The same rules as ``items[]`` of a subscription update (see :mod:`.subscriptions`): licensed quantity and
price changes prorate per ``proration_behavior``; a metered price takes no quantity; a price already on
the subscription cannot be added twice; the last item cannot be deleted ("A subscription must have at
least one active plan..."). ``clear_usage`` is accepted for metered items only (there is no usage to clear
yet). A new item's period ends with the subscription's current period.

- Items of a canceled subscription cannot be created (404 ``No such subscription``), changed or deleted.
- ``GET /v1/subscription_items`` needs ``subscription`` and lists its items newest first.
- A deleted item answers ``{"id", "object": "subscription_item", "deleted": true}`` and is gone.
- Every change records ``customer.subscription.updated`` for the subscription (plus the invoice item
  and invoice events of its prorations).
"""

from __future__ import annotations

import copy

from ..errors import StripeError, invalid_request, missing_parameter
from ..lists import list_params, paginate
from ..params import EXPAND, Bool, Enum, Int, Metadata, Obj, Str, Unsupported
from ..routing import Call, RouteTable
from ..store import JSON
from . import events
from .kinds import SUBSCRIPTION, SUBSCRIPTION_ITEM
from .subscriptions import item_changes, objects, validation

routes = RouteTable()

WRITABLE = {
    "billing_thresholds": Unsupported(),
    "current_trial": Unsupported(),
    "discounts": Unsupported(),
    "expand": EXPAND,
    "metadata": Metadata(),
    "payment_behavior": Enum(*validation.PAYMENT_BEHAVIORS),
    "plan": Unsupported(),
    "price": Str(),
    "price_data": Unsupported(),
    "proration_behavior": Enum(*validation.PRORATION_BEHAVIORS),
    "proration_date": Int(),
    "quantity": Int(min=0),
    "tax_rates": Unsupported(),
}
CREATE = Obj({**WRITABLE, "subscription": Str(required=True)})
UPDATE = Obj({**WRITABLE, "off_session": Bool()})
DELETE = Obj(
    {
        "clear_usage": Bool(),
        "payment_behavior": Enum(*validation.PAYMENT_BEHAVIORS),
        "proration_behavior": Enum(*validation.PRORATION_BEHAVIORS),
        "proration_date": Int(),
    }
)
RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(subscription=Str())

_ITEM_FIELDS = ("metadata", "price", "quantity")


def _require_item(call: Call) -> JSON:
    item = call.store.get(SUBSCRIPTION_ITEM, call.path["item"])
    if item is None:
        raise StripeError(404, f"Invalid subscription_item id: {call.path['item']}")
    return item


def _subscription_of(call: Call, item: JSON) -> JSON:
    subscription = call.store.require(SUBSCRIPTION, item["subscription"])
    if subscription["status"] in validation.ENDED:
        raise invalid_request(
            f"The subscription {subscription['id']} is canceled: its items can no longer be changed.",
            param="subscription",
        )
    return subscription


def _change(call: Call, subscription: JSON, change: item_changes.ItemChange) -> JSON:
    before = copy.deepcopy(subscription)
    item_changes.check_not_emptied(call, subscription, [change])
    saved = item_changes.apply_item_changes(
        call,
        subscription,
        [change],
        call.params.get("proration_behavior", "create_prorations"),
        at=call.params.get("proration_date"),
    )
    events.record(call, "customer.subscription.updated", saved, previous=before)
    return saved


@routes.post("/v1/subscription_items", params=CREATE, returns=SUBSCRIPTION_ITEM)
def create(call: Call) -> JSON:
    subscription = item_changes.require_live(call, call.params["subscription"], param="subscription")
    raw = {name: call.params[name] for name in _ITEM_FIELDS if name in call.params}
    change = item_changes.plan_item_change(call, subscription, raw, "", item=None)
    known = {item["id"] for item in objects.items_of(call.store, subscription["id"])}
    saved = _change(call, subscription, change)
    new = next(item for item in saved["items"]["data"] if item["id"] not in known)
    return call.store.require(SUBSCRIPTION_ITEM, new["id"])


@routes.get("/v1/subscription_items/{item}", params=RETRIEVE, returns=SUBSCRIPTION_ITEM)
def retrieve(call: Call) -> JSON:
    return _require_item(call)


@routes.post("/v1/subscription_items/{item}", params=UPDATE, returns=SUBSCRIPTION_ITEM)
def update(call: Call) -> JSON:
    item = _require_item(call)
    subscription = _subscription_of(call, item)
    raw = {name: call.params[name] for name in _ITEM_FIELDS if name in call.params}
    change = item_changes.plan_item_change(call, subscription, raw, "", item=item)
    _change(call, subscription, change)
    return call.store.require(SUBSCRIPTION_ITEM, item["id"])


@routes.delete("/v1/subscription_items/{item}", params=DELETE, returns=SUBSCRIPTION_ITEM)
def delete(call: Call) -> JSON:
    item = _require_item(call)
    subscription = _subscription_of(call, item)
    raw = {"deleted": True, **({"clear_usage": call.params["clear_usage"]} if "clear_usage" in call.params else {})}
    change = item_changes.plan_item_change(call, subscription, raw, "", item=item)
    _change(call, subscription, change)
    return {"id": item["id"], "object": "subscription_item", "deleted": True}


@routes.get("/v1/subscription_items", params=LIST, returns=SUBSCRIPTION_ITEM, is_list=True)
def list_items(call: Call) -> JSON:
    if "subscription" not in call.params:
        raise missing_parameter("subscription")
    subscription_id = call.params["subscription"]
    return paginate(
        call,
        SUBSCRIPTION_ITEM,
        call.store.all(SUBSCRIPTION_ITEM, lambda item: item["subscription"] == subscription_id),
    )
