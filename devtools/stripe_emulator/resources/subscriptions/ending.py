"""Ending subscriptions: cancellation (by request, at ``cancel_at``, for a deleted customer or after failed
payments) and the metered usage a final or renewal invoice bills (see the package docstring, Cancellation)."""

from __future__ import annotations

from typing import Any

from ...params import UNSET
from ...routing import Call
from ...store import JSON, Store
from .. import billing, events, invoiceitems, invoices, meter_events
from ..kinds import BILLING_METER, INVOICE_ITEM, PRICE, SUBSCRIPTION, SUBSCRIPTION_SCHEDULE
from .item_changes import prorate_item
from .objects import items_of, sync_items
from .validation import ENDED


def end(
    call: Call,
    subscription: JSON,
    *,
    invoice_now: bool,
    prorate: bool,
    details: dict[str, Any] | None,
    reason: str = "cancellation_requested",
) -> JSON:
    """Cancel ``subscription`` at ``call.now`` (the request, the clock at ``cancel_at``, or payments after the
    last retry failed: ``reason`` ``payment_failed``)."""
    items = items_of(call.store, subscription["id"])
    if prorate:
        for item in items:
            if item["quantity"] and not billing.is_metered(item["price"]) and item["current_period_end"] > call.now:
                prorate_item(
                    call,
                    subscription,
                    item["id"],
                    item["price"],
                    item["quantity"],
                    start=int(item["current_period_start"]),
                    end=int(item["current_period_end"]),
                    credit=True,
                    at=call.now,
                )
    elif not invoice_now:
        for leftover in invoiceitems.pending_for_subscription(call, subscription["id"]):
            if leftover["proration"]:
                call.store.remove(INVOICE_ITEM, leftover["id"])
                events.record(call, "invoiceitem.deleted", leftover)
    invoices.stop_collection(call, subscription["customer"])
    if invoice_now:
        usage_lines = [
            usage_line(call, subscription, item, int(item["current_period_start"]), call.now)
            for item in items
            if billing.is_metered(item["price"])
        ]
        pending = invoiceitems.pending_for_subscription(call, subscription["id"])
        if usage_lines or pending:
            invoice = invoices.create_draft(
                call,
                subscription=subscription,
                billing_reason="subscription_cycle",
                lines=usage_lines,
                invoice_items=pending,
                auto_advance=True,
            )
            invoices.finalize(call, invoice)
            subscription["latest_invoice"] = invoice["id"]
    subscription["status"] = "canceled"
    subscription["ended_at"] = call.now
    if subscription["canceled_at"] is None or not subscription["cancel_at_period_end"]:
        subscription["canceled_at"] = call.now
    cancellation = subscription["cancellation_details"]
    cancellation["reason"] = reason
    for name, value in (details or {}).items():
        cancellation[name] = None if value is UNSET else value
    if subscription["schedule"]:
        schedule = call.store.get(SUBSCRIPTION_SCHEDULE, subscription["schedule"])
        if schedule is not None and schedule["status"] in ("active", "not_started"):
            schedule.update({"canceled_at": call.now, "current_phase": None, "status": "canceled"})
            events.record(call, "subscription_schedule.canceled", call.store.save(SUBSCRIPTION_SCHEDULE, schedule))
    saved = sync_items(call, subscription)
    events.record(call, "customer.subscription.deleted", saved)
    return saved


def cancel_for_deleted_customer(call: Call, customer: JSON) -> None:
    """``customers.ON_DELETE`` hook: a deleted customer's subscriptions are canceled (no invoice, no proration)."""
    for subscription in call.store.all(
        SUBSCRIPTION, lambda sub: sub["customer"] == customer["id"] and sub["status"] not in ENDED
    ):
        end(call, subscription, invoice_now=False, prorate=False, details=None)


def cancel_for_nonpayment(call: Call, subscription: JSON) -> JSON:
    """``payments.CANCEL_FOR_NONPAYMENT`` hook: the account's settings cancel ``subscription`` after the last
    retry failed."""
    return end(call, subscription, invoice_now=False, prorate=False, details=None, reason="payment_failed")


def metered_usage(store: Store, price: JSON, customer: str, *, start: int, end: int, now: float) -> int:
    """The quantity of a metered price for ``customer`` over ``[start, end)``: its meter's aggregated value
    (https://docs.stripe.com/billing/subscriptions/usage-based/how-it-works), as processed by ``now``;
    0 when the overall usage is negative ("If the overall cycle usage is negative, Stripe reports the
    invoice line item usage quantity as 0", recording-usage-api#usage-values)."""
    meter_id = (price.get("recurring") or {}).get("meter")
    meter = store.get(BILLING_METER, meter_id) if meter_id else None
    if meter is None:
        return 0
    total = meter_events.usage_total(store, meter, customer, start=start, end=end, now=now)
    return max(0, int(total))


def usage_line(call: Call, subscription: JSON, item: JSON, start: int, end: int) -> JSON:
    price = item["price"]
    usage = metered_usage(call.store, price, subscription["customer"], start=start, end=end, now=call.now)
    return invoices.subscription_line(
        subscription,
        item["id"],
        price,
        quantity=usage,
        amount=billing.amount_of(price, usage),
        period={"start": start, "end": end},
        description=billing.item_description(call.store, price, usage),
    )


def refresh_usage_lines(call: Call, invoice: JSON) -> None:
    """``invoices.BEFORE_FINALIZE`` hook: before a ``subscription_cycle`` draft is finalized, recount its metered
    lines: usage for the ended period that arrived during the grace period (the hour between the invoice's creation
    and its finalization) lands on it (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period)."""
    if invoice["billing_reason"] != "subscription_cycle" or invoice["status"] != "draft":
        return
    for line in invoice["lines"]["data"]:
        details = (line.get("parent") or {}).get("subscription_item_details") or {}
        if not details or details.get("proration") or details.get("invoice_item"):
            continue
        price = call.store.get(PRICE, ((line.get("pricing") or {}).get("price_details") or {}).get("price", ""))
        if price is None or not billing.is_metered(price):
            continue
        period = line["period"]
        usage = metered_usage(
            call.store, price, invoice["customer"], start=period["start"], end=period["end"], now=call.now
        )
        amount = billing.amount_of(price, usage)
        line.update(
            {
                "amount": amount,
                "description": billing.item_description(call.store, price, usage),
                "quantity": usage,
                "quantity_decimal": str(usage),
                "subtotal": amount,
            }
        )


def _cancel_moment(subscription: JSON) -> int | None:
    if subscription["status"] in ENDED or subscription["cancel_at"] is None:
        return None
    return int(subscription["cancel_at"])


def cancel_next_due(store: Store) -> float | None:
    times = [at for sub in store.scan(SUBSCRIPTION) if (at := _cancel_moment(sub)) is not None]
    return min(times) if times else None


def cancel_due(store: Store, now: float) -> None:
    """Clock rule: cancel subscriptions whose ``cancel_at`` has come (``cancel_at_period_end``), at that
    time, billing their metered usage on a final invoice."""
    due = store.all(
        SUBSCRIPTION,
        lambda sub: sub["status"] not in ENDED and sub["cancel_at"] is not None and sub["cancel_at"] <= now,
    )
    for subscription in sorted(due, key=lambda sub: (sub["cancel_at"], sub["created"])):
        moment = int(subscription["cancel_at"])
        clock_call = Call(store, {}, {}, moment, f"/v1/subscriptions/{subscription['id']}")
        end(clock_call, subscription, invoice_now=True, prorate=False, details=None)
