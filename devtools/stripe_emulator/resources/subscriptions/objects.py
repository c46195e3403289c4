"""The subscription and subscription item objects: building, storing and reading them, and starting a
subscription with its first invoice (see the package docstring, Creation)."""

from __future__ import annotations

import copy
from typing import Any

from ...routing import Call
from ...store import JSON, Store
from .. import billing, events, invoices
from ..customers import claim_currency
from ..kinds import SUBSCRIPTION, SUBSCRIPTION_ITEM
from .validation import ItemSpec, billing_mode_of


def item_object(call: Call, subscription_id: str, spec: ItemSpec, start: int, end: int) -> JSON:
    return {
        "id": call.store.new_id(SUBSCRIPTION_ITEM),
        "object": "subscription_item",
        "billed_until": None,
        "billing_thresholds": None,
        "created": call.now,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": dict(spec.metadata),
        "plan": billing.plan_of(spec.price),
        "price": copy.deepcopy(spec.price),
        "quantity": spec.quantity,
        "subscription": subscription_id,
        "tax_rates": [],
    }


def items_of(store: Store, subscription_id: str) -> list[JSON]:
    """The subscription's items, oldest first."""
    return list(reversed(store.all(SUBSCRIPTION_ITEM, lambda item: item["subscription"] == subscription_id)))


def _items_list(store: Store, subscription_id: str) -> JSON:
    data = items_of(store, subscription_id)
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "total_count": len(data),
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }


def sync_items(call: Call, subscription: JSON) -> JSON:
    """Save ``subscription`` with its ``items`` list rebuilt from the stored items."""
    subscription["items"] = _items_list(call.store, subscription["id"])
    return call.store.save(SUBSCRIPTION, subscription)


def period_end_of(store: Store, subscription_id: str, default: int) -> int:
    ends = [int(item["current_period_end"]) for item in items_of(store, subscription_id)]
    return max(ends) if ends else default


def start(
    call: Call,
    *,
    customer: JSON,
    specs: list[ItemSpec],
    currency: str,
    collection_method: str,
    days_until_due: int | None,
    metadata: dict[str, str],
    description: str | None,
    billing_mode: dict[str, Any] | None,
    schedule_id: str | None,
    finalize_first_invoice: bool,
) -> tuple[JSON, JSON]:
    """Create the subscription, its items and its first invoice (all parameters validated).

    Records ``customer.updated`` (currency), ``customer.subscription.created``, ``invoice.created`` and,
    when the first invoice is finalized in the request, its finalization events. A schedule records its
    own ``subscription_schedule.created`` first, so events are left to :func:`record_start`.
    """
    sub_id = call.store.new_id(SUBSCRIPTION)
    subscription: JSON = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": call.now,
        "billing_cycle_anchor_config": None,
        "billing_mode": billing_mode_of(billing_mode, call.now),
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": collection_method,
        "created": call.now,
        "currency": currency,
        "customer": customer["id"],
        "customer_account": None,
        "days_until_due": days_until_due,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {},
        "latest_invoice": None,
        "livemode": False,
        "metadata": dict(metadata),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": schedule_id,
        "start_date": call.now,
        "status": "active",
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }
    claim_currency(call, customer, currency)
    lines: list[JSON] = []
    for spec in specs:
        end = billing.price_period_end(spec.price, call.now)
        item = call.store.insert(SUBSCRIPTION_ITEM, item_object(call, sub_id, spec, call.now, end))
        quantity = spec.quantity or 0
        amount = 0 if spec.quantity is None else billing.amount_of(spec.price, spec.quantity)
        lines.append(
            invoices.subscription_line(
                subscription,
                item["id"],
                spec.price,
                quantity=quantity,
                amount=amount,
                period={"start": call.now, "end": end},
                description=billing.item_description(call.store, spec.price, quantity),
            )
        )
    subscription["items"] = _items_list(call.store, sub_id)
    invoice = invoices.create_draft(
        call,
        subscription=subscription,
        billing_reason="subscription_create",
        lines=lines,
        auto_advance=not finalize_first_invoice,
        record_event=False,
    )
    subscription["latest_invoice"] = invoice["id"]
    if finalize_first_invoice and invoice["amount_due"] > 0:
        subscription["status"] = "incomplete"  # default_incomplete: the only behavior that gets here
    stored = call.store.insert(SUBSCRIPTION, subscription)
    return stored, invoice


def record_start(call: Call, subscription: JSON, invoice: JSON, *, finalize_first_invoice: bool) -> JSON:
    """The events of :func:`start`, in Stripe's order; finalizes the first invoice when asked."""
    events.record(call, "customer.subscription.created", subscription)
    events.record(call, "invoice.created", invoice)
    if finalize_first_invoice:
        invoice = invoices.finalize(call, invoice, auto_advance=False)
    return invoice
