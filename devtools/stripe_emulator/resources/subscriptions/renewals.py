"""Renewals at the items' period end, the clock rule (see the package docstring, Renewal)."""

from __future__ import annotations

import copy

from ...routing import Call
from ...store import JSON, Store
from .. import billing, events, invoiceitems, invoices
from ..kinds import SUBSCRIPTION, SUBSCRIPTION_ITEM
from .ending import usage_line
from .objects import items_of, sync_items


def _period_ends(store: Store) -> dict[str, list[int]]:
    ends: dict[str, list[int]] = {}
    for item in store.scan(SUBSCRIPTION_ITEM):
        ends.setdefault(item["subscription"], []).append(int(item["current_period_end"]))
    return ends


def _renewal_moment(subscription: JSON, ends: list[int]) -> int | None:
    """When ``subscription`` renews next: its earliest item period end, unless it is not ``active`` (or
    ``past_due``) or canceled by then (``cancel_at``). A subscription on a schedule renews too: the schedule's
    end (``subscription_schedules.end_due``, an earlier clock rule) cancels it first when it ends it."""
    if subscription["status"] not in ("active", "past_due") or not ends:
        return None
    moment = min(ends)
    if subscription["cancel_at"] is not None and subscription["cancel_at"] <= moment:
        return None
    return moment


def next_renewal(store: Store, subscription: JSON) -> int | None:
    """When ``subscription`` renews next (``None`` if it does not)."""
    return _renewal_moment(
        subscription, [int(item["current_period_end"]) for item in items_of(store, subscription["id"])]
    )


def renew_next_due(store: Store) -> float | None:
    ends = _period_ends(store)
    times = [
        at
        for subscription in store.scan(SUBSCRIPTION)
        if (at := _renewal_moment(subscription, ends.get(subscription["id"], []))) is not None
    ]
    return min(times) if times else None


def next_period_end(anchor: int, price: JSON, after: int) -> int:
    """The first period end of ``price`` counted from the billing cycle ``anchor`` that lies after
    ``after`` (the n-th end is computed from the anchor, so a 31st comes back after a short month)."""
    recurring = price["recurring"] or {"interval": "month", "interval_count": 1}
    count = recurring.get("interval_count") or 1
    periods = 1
    while (candidate := billing.add_interval(anchor, recurring["interval"], periods * count)) <= after:
        periods += 1
    return candidate


def renew(store: Store, subscription: JSON, moment: int) -> JSON:
    """Start the next period of the items ending at ``moment``: one ``subscription_cycle`` invoice (draft,
    ``auto_advance``) with the licensed items for the new period in advance, the metered items' usage for
    the ended one in arrears and the subscription's pending invoice items; the items' periods advance.
    Records ``invoice.created`` and ``customer.subscription.updated``."""
    call = Call(store, {}, {}, moment, f"/v1/subscriptions/{subscription['id']}")
    before = copy.deepcopy(subscription)
    lines: list[JSON] = []
    starts: list[int] = []
    for item in items_of(store, subscription["id"]):
        if int(item["current_period_end"]) > moment:
            continue
        price = item["price"]
        start = int(item["current_period_start"])
        starts.append(start)
        new_end = next_period_end(int(subscription["billing_cycle_anchor"]), price, moment)
        if billing.is_metered(price):
            lines.append(usage_line(call, subscription, item, start, moment))
        else:
            quantity = int(item["quantity"] or 0)
            lines.append(
                invoices.subscription_line(
                    subscription,
                    item["id"],
                    price,
                    quantity=quantity,
                    amount=billing.amount_of(price, quantity),
                    period={"start": moment, "end": new_end},
                    description=billing.item_description(store, price, quantity),
                )
            )
        item["current_period_start"] = moment
        item["current_period_end"] = new_end
        store.save(SUBSCRIPTION_ITEM, item)
    invoice = invoices.create_draft(
        call,
        subscription=subscription,
        billing_reason="subscription_cycle",
        lines=lines,
        invoice_items=invoiceitems.pending_for_subscription(call, subscription["id"]),
        auto_advance=True,
        period=(min(starts, default=moment), moment),
    )
    subscription["latest_invoice"] = invoice["id"]
    saved = sync_items(call, subscription)
    events.record(call, "customer.subscription.updated", saved, previous=before)
    return saved


def renew_due(store: Store, now: float) -> None:
    """Clock rule: renew every active subscription whose items' period has ended by ``now``, at the time it
    ended (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle)."""
    ends = _period_ends(store)
    due = [
        (moment, subscription)
        for subscription in store.all(SUBSCRIPTION)
        if (moment := _renewal_moment(subscription, ends.get(subscription["id"], []))) is not None and moment <= now
    ]
    for moment, subscription in sorted(due, key=lambda pair: (pair[0], pair[1]["created"])):
        renew(store, subscription, moment)
