"""Changes to a subscription's items, shared with ``/v1/subscription_items`` and invoice previews: validated,
then applied with their prorations (see the package docstring, Changes)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ...errors import invalid_request, missing_parameter, resource_missing
from ...params import apply_metadata
from ...routing import Call
from ...store import JSON
from .. import billing, invoiceitems, invoices
from ..kinds import SUBSCRIPTION, SUBSCRIPTION_ITEM
from .objects import item_object, items_of, period_end_of, sync_items
from .validation import ENDED, LAST_ITEM, ItemSpec, metered_quantity_error, mixed_currency_error, nested, resolve_price


@dataclass
class ItemChange:
    """One planned change: ``item`` None adds ``price``; ``delete`` removes ``item``."""

    item: JSON | None
    price: JSON
    quantity: int | None
    metadata: Any = None
    delete: bool = False


def plan_item_change(
    call: Call, subscription: JSON, raw: dict[str, Any], path: str, *, item: JSON | None
) -> ItemChange:
    """Validate one change of ``subscription``'s items (``raw`` as in ``items[]``)."""
    if raw.get("deleted"):
        if item is None:
            raise missing_parameter(nested(path, "id"))
        if raw.get("clear_usage") and not billing.is_metered(item["price"]):
            raise invalid_request(
                "`clear_usage` can only be set for subscription items with a metered price.",
                param=nested(path, "clear_usage"),
            )
        return ItemChange(item, item["price"], item["quantity"], delete=True)
    if item is None and "price" not in raw:
        raise missing_parameter(nested(path, "price"))
    price = item["price"] if item is not None else None
    if "price" in raw:
        price = resolve_price(call, raw["price"], nested(path, "price"))
        if price["currency"] != subscription["currency"]:
            raise mixed_currency_error(price, subscription["currency"], nested(path, "price"))
        holder = next(
            (
                other
                for other in items_of(call.store, subscription["id"])
                if other["price"]["id"] == price["id"] and (item is None or other["id"] != item["id"])
            ),
            None,
        )
        if holder is not None:
            raise invalid_request(
                f"A new item with Price {price['id']} can't be added to this Subscription because an existing "
                f"Subscription Item {holder['id']} is already using that Price. If you want to update the existing "
                "item (e.g., to adjust the quantity), pass the existing Subscription Item's `id` in your update "
                "request: https://stripe.com/docs/api/subscriptions/update#update_subscription-items-id",
                param="plan",
            )
    assert price is not None
    metered = billing.is_metered(price)
    if metered and "quantity" in raw:
        raise metered_quantity_error(path)
    if metered:
        quantity = None
    elif "quantity" in raw:
        quantity = int(raw["quantity"])
    elif item is not None and item["quantity"] is not None:
        quantity = int(item["quantity"])
    else:
        quantity = 1
    return ItemChange(item, price, quantity, metadata=raw.get("metadata"))


def plan_item_changes(call: Call, subscription: JSON, raws: list[dict[str, Any]], path: str) -> list[ItemChange]:
    """Validate the changes ``raws`` (``items[]`` at ``path``) would make to ``subscription``'s items."""
    changes: list[ItemChange] = []
    existing = {item["id"]: item for item in items_of(call.store, subscription["id"])}
    for index, raw in enumerate(raws):
        item_path = f"{path}[{index}]"
        item = None
        if "id" in raw:
            item = existing.get(raw["id"])
            if item is None:
                raise resource_missing(SUBSCRIPTION_ITEM.label, raw["id"], param=f"{item_path}[id]", status=400)
        changes.append(plan_item_change(call, subscription, raw, item_path, item=item))
    if changes:
        check_not_emptied(call, subscription, changes)
    return changes


def check_not_emptied(call: Call, subscription: JSON, changes: list[ItemChange]) -> None:
    deleted = {change.item["id"] for change in changes if change.delete and change.item is not None}
    added = sum(1 for change in changes if change.item is None)
    remaining = [item for item in items_of(call.store, subscription["id"]) if item["id"] not in deleted]
    if not remaining and not added:
        raise invalid_request(LAST_ITEM)


def prorate_item(
    call: Call,
    subscription: JSON,
    item_id: str,
    price: JSON,
    quantity: int,
    *,
    start: int,
    end: int,
    credit: bool,
    at: int,
) -> JSON | None:
    """A pending proration item for ``[at, end)`` of the period ``[start, end)``."""
    amount = billing.prorated_amount(price, quantity, start=start, end=end, at=at)
    if amount == 0:
        return None
    return invoiceitems.create_proration(
        call,
        subscription=subscription,
        subscription_item_id=item_id,
        price=price,
        quantity=quantity,
        amount=-amount if credit else amount,
        period={"start": at, "end": end},
        description=billing.proration_description(call.store, price, quantity, credit=credit, at=at),
    )


def apply_item_changes(
    call: Call, subscription: JSON, changes: list[ItemChange], proration_behavior: str, *, at: int | None = None
) -> JSON:
    """Apply validated changes, prorating licensed items as of ``at`` (``proration_date``, default now);
    returns the subscription (saved, items synced).

    With ``always_invoice`` the subscription's pending items are invoiced and the invoice finalized.
    """
    at = call.now if at is None else at
    prorate = proration_behavior != "none"
    default_end = period_end_of(call.store, subscription["id"], billing.add_interval(call.now, "month"))
    for change in changes:
        item = change.item
        if item is None:
            end = default_end
            spec = ItemSpec(change.price, change.quantity, apply_metadata({}, change.metadata))
            new = call.store.insert(SUBSCRIPTION_ITEM, item_object(call, subscription["id"], spec, call.now, end))
            if prorate and change.quantity:
                prorate_item(
                    call,
                    subscription,
                    new["id"],
                    change.price,
                    change.quantity,
                    start=call.now,
                    end=end,
                    credit=False,
                    at=at,
                )
            continue
        period = {"start": int(item["current_period_start"]), "end": int(item["current_period_end"])}
        old_price, old_quantity = item["price"], item["quantity"]
        if change.delete:
            if prorate and old_quantity:
                prorate_item(call, subscription, item["id"], old_price, old_quantity, **period, credit=True, at=at)
            call.store.remove(SUBSCRIPTION_ITEM, item["id"])
            continue
        moved = old_price["id"] != change.price["id"] or old_quantity != change.quantity
        if prorate and moved:
            if old_quantity:
                prorate_item(call, subscription, item["id"], old_price, old_quantity, **period, credit=True, at=at)
            if change.quantity:
                prorate_item(
                    call, subscription, item["id"], change.price, change.quantity, **period, credit=False, at=at
                )
        stored = call.store.require(SUBSCRIPTION_ITEM, item["id"])
        stored["price"] = copy.deepcopy(change.price)
        stored["plan"] = billing.plan_of(change.price)
        stored["quantity"] = change.quantity
        if change.metadata is not None:
            stored["metadata"] = apply_metadata(stored["metadata"], change.metadata)
        call.store.save(SUBSCRIPTION_ITEM, stored)
    if proration_behavior == "always_invoice":
        pending = invoiceitems.pending_for_subscription(call, subscription["id"])
        if pending:
            invoice = invoices.create_draft(
                call,
                subscription=subscription,
                billing_reason="subscription_update",
                lines=[],
                invoice_items=pending,
                auto_advance=True,
            )
            invoices.finalize(call, invoice)
            subscription["latest_invoice"] = invoice["id"]
    return sync_items(call, subscription)


def require_live(call: Call, subscription_id: str, *, param: str = "id", status: int = 404) -> JSON:
    """A subscription that is not canceled (Stripe answers ``resource_missing`` for canceled ones)."""
    subscription = call.store.get(SUBSCRIPTION, subscription_id)
    if subscription is None or subscription["status"] in ENDED:
        raise resource_missing(SUBSCRIPTION.label, subscription_id, param=param, status=status)
    return subscription
