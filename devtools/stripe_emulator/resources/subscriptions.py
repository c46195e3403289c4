"""Subscriptions (https://docs.stripe.com/api/subscriptions) and the item changes they share with
``/v1/subscription_items``.

Creation (``POST /v1/subscriptions``, or a subscription schedule starting ``now``):

- Items take an active recurring ``price`` and a ``quantity`` (default 1); a metered price takes no
  quantity: "Quantity should not be specified where usage_type is `metered`. Remove quantity from
  `items[0]`." (its ``quantity`` reads ``null``). All prices share one currency (or the ``currency``
  parameter); the customer must not be billed in another one (see customers).
- Each item gets its own period, ``current_period_start/end``, one price interval long on the calendar
  (the subscription itself has no period fields since API 2025-03-31.basil).
  ``billing_mode`` defaults to ``flexible`` (API 2025-09-30.clover and later).
- The first invoice (``billing_reason: subscription_create``, period start = end = creation) has one
  line per item: quantity × unit amount for licensed prices, a zero-amount line of quantity 0 for
  metered ones (their usage is billed in arrears). ``latest_invoice`` names it.
  - ``send_invoice`` (``days_until_due`` required) and schedule-made subscriptions: ``active``, the
    invoice a draft with ``auto_advance: true``, finalized by the emulator clock an hour later.
  - ``charge_automatically``: the invoice is finalized within the request (SDK: "the first invoice is
    finalized as part of the request"). Nothing due → ``paid``, ``active``. Something due is charged at
    once to the subscription's ``default_payment_method`` or the customer's default (see payments):
    paid → ``active``; declined → ``allow_incomplete`` (the default) gives an ``incomplete`` subscription
    with the invoice ``open`` (``invoice.payment_failed``, no retries; ``incomplete_expired`` 23 hours
    later), ``error_if_incomplete`` answers the 402 card error and creates nothing
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior). No payment
    method at all: ``allow_incomplete`` and ``error_if_incomplete`` refuse with "This customer has no
    attached payment source or default payment method..." and create nothing. ``default_incomplete``
    never charges: an ``incomplete`` subscription with the invoice ``open``.

Changes (``POST /v1/subscriptions/{id}`` ``items[]``, ``/v1/subscription_items``):

- Quantity or price changes of licensed items create prorations by the second
  (https://docs.stripe.com/billing/subscriptions/prorations), per ``proration_behavior``:
  ``create_prorations`` (default) leaves two pending invoice items — a credit "Unused time on 10 × Seat
  after ..." and a charge "Remaining time on 12 × Seat after ..." — for the next invoice;
  ``always_invoice`` also invoices the subscription's pending items at once (``subscription_update``,
  finalized in the request); ``none`` bills nothing. Metered items are never prorated.
- Adding an item gives it the subscription's current period end; removing the last item is refused.
- ``cancel_at_period_end`` sets ``cancel_at`` to the items' period end and ``canceled_at`` to now
  (status unchanged); the emulator clock cancels the subscription when ``cancel_at`` comes.
- A canceled subscription only accepts ``metadata`` and ``cancellation_details``.

Cancellation (``DELETE /v1/subscriptions/{id}``): ``canceled``, ``canceled_at``/``ended_at`` now,
``cancellation_details.reason: cancellation_requested``. ``prorate`` credits the unused time of licensed
items (pending items); ``invoice_now`` bills at once, on a final invoice (``billing_reason:
subscription_cycle``, finalized in the request), the subscription's pending items and its metered usage
since the period start (the meters' aggregated values, :func:`metered_usage`); with neither, the
subscription's pending prorations are deleted. Open invoices of the customer lose ``auto_advance``
("Stripe stops automatic collection of all finalized invoices for the customer"). Cancelling again is 404
``resource_missing``. A schedule managing the subscription is canceled with it. Deleting the customer cancels its
subscriptions the same way (no invoice, no proration).

Renewal (the clock rule :func:`renew_due`, https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle):
when the items' ``current_period_end`` passes, an ``active`` subscription (on a schedule or not) renews
at that moment: one ``subscription_cycle`` invoice (draft, ``auto_advance``, ``period_start``/``period_end``
the ended period) bills the licensed items for the next period in advance (quantity × unit amount, line
period = the new period), the metered items' usage of the ended period in arrears (quantity = the meter's
aggregated value for the customer over ``[period start, period end)``, 0 if negative; amount = quantity ×
unit amount, ``unit_amount_decimal`` rounded half up to the minor unit) and the subscription's pending
invoice items (prorations); the items' periods advance (counted from ``billing_cycle_anchor``);
``latest_invoice`` names the invoice. Events: ``invoice.created``, ``customer.subscription.updated`` (none
for the pending items attached: Stripe has no ``invoiceitem.updated``). The draft is finalized an hour later (invoices'
clock rule); its usage lines are recounted then, so usage for the ended period that arrives during this
grace period lands on it (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
A subscription with ``cancel_at`` at (or before) the period end is canceled instead (:func:`cancel_due`).

A schedule whose phase ends at the same moment is applied first (see subscription_schedules): released,
the subscription renews; canceled, it does not.

Payments of its invoices (past_due, retries, cancellation after the last one) are :mod:`.payments`' work;
a ``past_due`` subscription still renews ("The subscription continues to create invoices").

Not modeled (documented, refused or ignored loudly): trials, discounts, taxes, pause/resume,
renewals of ``unpaid`` subscriptions.

Lists exclude ``canceled`` and ``incomplete_expired`` subscriptions unless ``status`` asks
(``all``, ``ended``, ``canceled``...). Search takes ``created``, ``metadata``, ``status``.

Events: ``customer.subscription.created``, ``customer.subscription.updated`` (with
``previous_attributes``), ``customer.subscription.deleted``, plus the invoice and invoice item events of
what a change bills.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import StripeError, invalid_request, missing_parameter, resource_missing
from ..lists import list_params, paginate
from ..params import (
    EXPAND,
    UNSET,
    Bool,
    Currency,
    Enum,
    Int,
    IntOrKeyword,
    ListOf,
    Metadata,
    Obj,
    Param,
    RangeFilter,
    Str,
    Unsupported,
    apply_metadata,
    in_range,
)
from ..routing import Call, RouteTable
from ..search import METADATA, SEARCH_PARAMS, SearchField, number_field, search_page, string_field
from ..store import JSON, Store
from . import billing, customers, events, invoiceitems, invoices, meter_events, payments
from .customers import check_currency, claim_currency
from .kinds import (
    BILLING_METER,
    CUSTOMER,
    INVOICE_ITEM,
    PRICE,
    SUBSCRIPTION,
    SUBSCRIPTION_ITEM,
    SUBSCRIPTION_SCHEDULE,
)

routes = RouteTable()

MAX_ITEMS = 20
ENDED = ("canceled", "incomplete_expired")
STATUSES = ("active", "canceled", "incomplete", "incomplete_expired", "past_due", "paused", "trialing", "unpaid")
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")
FEEDBACK = (
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
)
CANCELED_UPDATABLE = frozenset({"cancellation_details", "metadata", "expand"})
LAST_ITEM = (
    "A subscription must have at least one active plan. To cancel a subscription, please use the cancel API "
    "endpoint on /v1/subscriptions."
)

AUTOMATIC_TAX = Obj({"enabled": Bool(required=True), "liability": Unsupported()})
BILLING_MODE = Obj(
    {
        "flexible": Obj({"proration_discounts": Enum("included", "itemized")}),
        "type": Enum("classic", "flexible", required=True),
    }
)
CANCELLATION_DETAILS = Obj(
    {
        "comment": Str(emptyable=True, max_length=5000),
        "feedback": Str(emptyable=True, choices=FEEDBACK),
        "feedback_option": Unsupported(),
    }
)
ITEM = Obj(
    {
        "billing_thresholds": Unsupported(),
        "current_trial": Unsupported(),
        "discounts": Unsupported(),
        "metadata": Metadata(),
        "plan": Unsupported(),
        "price": Str(),
        "price_data": Unsupported(),
        "quantity": Int(min=0),
        "tax_rates": Unsupported(),
    }
)
UPDATE_ITEM = ITEM.extend(clear_usage=Bool(), deleted=Bool(), id=Str())

UNMODELED: dict[str, Param] = {
    name: Unsupported()
    for name in (
        "add_invoice_items",
        "application_fee_percent",
        "billing_schedules",
        "billing_thresholds",
        "default_source",
        "default_tax_rates",
        "discounts",
        "invoice_settings",
        "on_behalf_of",
        "payment_settings",
        "pending_invoice_item_interval",
        "transfer_data",
        "trial_end",
        "trial_from_plan",
        "trial_settings",
    )
}
CREATE = Obj(
    {
        **UNMODELED,
        "automatic_tax": AUTOMATIC_TAX,
        "backdate_start_date": Unsupported(),
        "billing_cycle_anchor": Unsupported(),
        "billing_cycle_anchor_config": Unsupported(),
        "billing_mode": BILLING_MODE,
        "cancel_at": Unsupported(),
        "cancel_at_period_end": Bool(),
        "collection_method": Enum(*COLLECTION_METHODS),
        "currency": Currency(),
        "customer": Str(),
        "customer_account": Unsupported(),
        "days_until_due": Int(min=0),
        "default_payment_method": Str(),
        "description": Str(max_length=500),
        "expand": EXPAND,
        "items": ListOf(ITEM, max_items=MAX_ITEMS),
        "metadata": Metadata(),
        "off_session": Bool(),
        "payment_behavior": Enum(*PAYMENT_BEHAVIORS),
        "proration_behavior": Enum(*PRORATION_BEHAVIORS),
        "trial_period_days": Unsupported(),
    }
)
UPDATE = Obj(
    {
        **UNMODELED,
        "automatic_tax": AUTOMATIC_TAX,
        "billing_cycle_anchor": Unsupported(),
        "cancel_at": IntOrKeyword("max_billed_until", "max_period_end", "min_period_end", emptyable=True),
        "cancel_at_period_end": Bool(),
        "cancellation_details": CANCELLATION_DETAILS,
        "collection_method": Enum(*COLLECTION_METHODS),
        "days_until_due": Int(min=0),
        "default_payment_method": Str(emptyable=True),
        "description": Str(emptyable=True, max_length=500),
        "expand": EXPAND,
        "items": ListOf(UPDATE_ITEM, max_items=MAX_ITEMS),
        "metadata": Metadata(),
        "off_session": Bool(),
        "pause_collection": Unsupported(),
        "payment_behavior": Enum(*PAYMENT_BEHAVIORS),
        "proration_behavior": Enum(*PRORATION_BEHAVIORS),
        "proration_date": Int(),
    }
)
CANCEL = Obj(
    {
        "cancellation_details": CANCELLATION_DETAILS,
        "expand": EXPAND,
        "invoice_now": Bool(),
        "prorate": Bool(),
    }
)
RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(
    automatic_tax=Obj({"enabled": Bool(required=True)}),
    collection_method=Enum(*COLLECTION_METHODS),
    created=RangeFilter(),
    current_period_end=Unsupported(),
    current_period_start=Unsupported(),
    customer=Str(),
    customer_account=Unsupported(),
    plan=Str(),
    price=Str(),
    status=Enum(*STATUSES, "all", "ended"),
    test_clock=Unsupported(),
)
SEARCH_FIELDS: dict[str, SearchField] = {
    "created": number_field("created"),
    "metadata": METADATA,
    "status": string_field("status"),
}


# validation --------------------------------------------------------------------------------------
@dataclass
class ItemSpec:
    """A validated item to create: its price, quantity (``None`` for metered) and metadata."""

    price: JSON
    quantity: int | None
    metadata: dict[str, str]


def _mixed_currency(price: JSON, currency: str, param: str) -> StripeError:
    return invalid_request(
        f"The price specified only supports `{price['currency']}`. This doesn't match the expected currency: "
        f"`{currency}`.",
        param=param,
    )


def nested(path: str, name: str) -> str:
    """``items[0]`` + ``price`` -> ``items[0][price]``; a top-level parameter when ``path`` is empty."""
    return f"{path}[{name}]" if path else name


def metered_quantity_error(path: str) -> StripeError:
    message = "Quantity should not be specified where usage_type is `metered`."
    if path:
        message += f" Remove quantity from `{path}`."
    return invalid_request(message, param=nested(path, "quantity"))


def resolve_price(call: Call, price_id: str, param: str) -> JSON:
    """An active recurring price named by a parameter."""
    price = call.store.require(PRICE, price_id, param=param, status=400)
    if price["type"] != "recurring":
        raise invalid_request(
            "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
            param=param,
        )
    if not price["active"]:
        raise invalid_request("The price specified is inactive. This field only accepts active prices.", param=param)
    return price


def resolve_items(
    call: Call, raw_items: list[dict[str, Any]], prefix: str, currency: str | None
) -> tuple[list[ItemSpec], str]:
    """Validate the ``items`` of a new subscription; returns them and the subscription's currency
    (``currency`` when given, else the first price's)."""
    explicit = currency is not None
    if not raw_items:
        raise missing_parameter(prefix)
    specs: list[ItemSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        path = f"{prefix}[{index}]"
        if "price" not in raw:
            raise missing_parameter(f"{path}[price]")
        price = resolve_price(call, raw["price"], f"{path}[price]")
        if price["id"] in seen:
            raise invalid_request(
                f"Cannot create a Subscription with multiple Subscription Items with the same Price: {price['id']}",
                param="plan",
            )
        seen.add(price["id"])
        if currency is not None and price["currency"] != currency:
            if not explicit:
                raise invalid_request(
                    f"This `price` has `currency={price['currency']}`, but other items use `currency={currency}`. "
                    "All items must have pricing in the same currency. When using multi-currency prices, you can "
                    "specify `currency` at the top level, to be used by all items.",
                    param=f"{path}[price]",
                )
            raise _mixed_currency(price, currency, f"{path}[price]")
        currency = currency or price["currency"]
        metered = billing.is_metered(price)
        if metered and "quantity" in raw:
            raise metered_quantity_error(path)
        quantity = None if metered else int(raw.get("quantity", 1))
        specs.append(ItemSpec(price, quantity, apply_metadata({}, raw.get("metadata"))))
    assert currency is not None
    return specs, currency


def check_collection(collection_method: str, days_until_due: int | None) -> None:
    if days_until_due is not None and collection_method != "send_invoice":
        raise invalid_request("You can only specify 'days_until_due' if invoice collection method is 'send_invoice'.")
    if collection_method == "send_invoice" and days_until_due is None:
        raise invalid_request("If invoice collection method is 'send_invoice', you must specify 'days_until_due'.")


def check_automatic_tax(value: dict[str, Any] | None, param: str) -> None:
    if (value or {}).get("enabled"):
        raise StripeError(
            400,
            "The Stripe emulator does not model automatic tax yet (`enabled: true`). Extend "
            "devtools/stripe_emulator if the project needs it.",
            param=f"{param}[enabled]",
            code="emulator_unsupported_parameter",
            saved=False,
        )


def billing_mode_of(value: dict[str, Any] | None, now: int) -> JSON:
    mode = (value or {}).get("type", "flexible")
    if mode == "classic":
        return {"flexible": None, "type": "classic", "updated_at": None}
    flexible = (value or {}).get("flexible") or {}
    return {
        "flexible": {"proration_discounts": flexible.get("proration_discounts", "included")},
        "type": "flexible",
        "updated_at": now,
    }


# objects -----------------------------------------------------------------------------------------
def _item_object(call: Call, subscription_id: str, spec: ItemSpec, start: int, end: int) -> JSON:
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
        item = call.store.insert(SUBSCRIPTION_ITEM, _item_object(call, sub_id, spec, call.now, end))
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


# item changes ------------------------------------------------------------------------------------
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
            raise _mixed_currency(price, subscription["currency"], nested(path, "price"))
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


def _prorate(
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
            new = call.store.insert(SUBSCRIPTION_ITEM, _item_object(call, subscription["id"], spec, call.now, end))
            if prorate and change.quantity:
                _prorate(
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
                _prorate(call, subscription, item["id"], old_price, old_quantity, **period, credit=True, at=at)
            call.store.remove(SUBSCRIPTION_ITEM, item["id"])
            continue
        moved = old_price["id"] != change.price["id"] or old_quantity != change.quantity
        if prorate and moved:
            if old_quantity:
                _prorate(call, subscription, item["id"], old_price, old_quantity, **period, credit=True, at=at)
            if change.quantity:
                _prorate(call, subscription, item["id"], change.price, change.quantity, **period, credit=False, at=at)
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


# ending ------------------------------------------------------------------------------------------
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
                _prorate(
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
            _usage_line(call, subscription, item, int(item["current_period_start"]), call.now)
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


def _cancel_for_deleted_customer(call: Call, customer: JSON) -> None:
    for subscription in call.store.all(
        SUBSCRIPTION, lambda sub: sub["customer"] == customer["id"] and sub["status"] not in ENDED
    ):
        end(call, subscription, invoice_now=False, prorate=False, details=None)


customers.ON_DELETE.append(_cancel_for_deleted_customer)
payments.CANCEL_FOR_NONPAYMENT.append(
    lambda call, subscription: end(
        call, subscription, invoice_now=False, prorate=False, details=None, reason="payment_failed"
    )
)


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


def _usage_line(call: Call, subscription: JSON, item: JSON, start: int, end: int) -> JSON:
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
    """Before a ``subscription_cycle`` draft is finalized, recount its metered lines: usage for the ended
    period that arrived during the grace period (the hour between the invoice's creation and its
    finalization) lands on it (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period)."""
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


invoices.BEFORE_FINALIZE.append(refresh_usage_lines)


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


# renewals ----------------------------------------------------------------------------------------
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
            lines.append(_usage_line(call, subscription, item, start, moment))
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


# endpoints ---------------------------------------------------------------------------------------
@routes.post("/v1/subscriptions", params=CREATE, returns=SUBSCRIPTION)
def create(call: Call) -> JSON:
    params = call.params
    if "customer" not in params:
        raise missing_parameter("customer")
    customer = call.store.get(CUSTOMER, params["customer"])
    if customer is None or customer.get("deleted"):
        raise resource_missing(CUSTOMER.label, params["customer"], param="customer", status=404)
    payment_behavior = params.get("payment_behavior", "allow_incomplete")
    if payment_behavior == "pending_if_incomplete":
        raise invalid_request(
            "Setting `payment_behavior` to `pending_if_incomplete` has no effect when creating a subscription.",
            param="payment_behavior",
        )
    if "items" not in params:
        raise missing_parameter("items")
    specs, currency = resolve_items(call, params["items"], "items", params.get("currency"))
    collection_method = params.get("collection_method", "charge_automatically")
    check_collection(collection_method, params.get("days_until_due"))
    check_automatic_tax(params.get("automatic_tax"), "automatic_tax")
    check_currency(call, customer, currency)
    charge = collection_method == "charge_automatically"
    due = sum(billing.amount_of(spec.price, spec.quantity) for spec in specs if spec.quantity is not None)
    default_payment_method = params.get("default_payment_method")
    if default_payment_method:
        payments.require_attached(call, default_payment_method, customer["id"], param="default_payment_method")
    payment_method = payments.payment_method_for_subscription(call.store, customer["id"], default_payment_method)
    paying = charge and due > 0 and payment_behavior != "default_incomplete"
    if paying and payment_method is None:
        raise StripeError(400, invoices.NO_PAYMENT_METHOD, code="resource_missing")
    decline = payments.charge_decline(payment_method) if paying and payment_method else None
    if decline is not None and payment_behavior == "error_if_incomplete":
        raise payments.card_error(decline)
    subscription, invoice = start(
        call,
        customer=customer,
        specs=specs,
        currency=currency,
        collection_method=collection_method,
        days_until_due=params.get("days_until_due"),
        metadata=apply_metadata({}, params.get("metadata")),
        description=params.get("description"),
        billing_mode=params.get("billing_mode"),
        schedule_id=None,
        finalize_first_invoice=charge,
    )
    subscription["default_payment_method"] = default_payment_method or None
    if paying and decline is None:
        subscription["status"] = "active"  # paid within the request
    subscription = call.store.save(SUBSCRIPTION, subscription)
    invoice = record_start(call, subscription, invoice, finalize_first_invoice=charge)
    if paying:
        payments.attempt(call, invoice, payment_method, automatic=False)
    if params.get("cancel_at_period_end"):
        before = copy.deepcopy(subscription)
        _set_cancel_at_period_end(call, subscription, True)
        subscription = call.store.save(SUBSCRIPTION, subscription)
        events.record(call, "customer.subscription.updated", subscription, previous=before)
    return call.store.require(SUBSCRIPTION, subscription["id"])


@routes.get("/v1/subscriptions/search", params=SEARCH_PARAMS, returns=SUBSCRIPTION, is_list=True)
def search(call: Call) -> JSON:
    return search_page(call, call.store.all(SUBSCRIPTION), SEARCH_FIELDS, "subscriptions")


@routes.get("/v1/subscriptions/{subscription}", params=RETRIEVE, returns=SUBSCRIPTION)
def retrieve(call: Call) -> JSON:
    return call.store.require(SUBSCRIPTION, call.path["subscription"])


def _set_cancel_at_period_end(call: Call, subscription: JSON, value: bool) -> None:
    subscription["cancel_at_period_end"] = value
    if value:
        subscription["cancel_at"] = period_end_of(call.store, subscription["id"], call.now)
        subscription["canceled_at"] = call.now
        subscription["cancellation_details"]["reason"] = "cancellation_requested"
    else:
        subscription["cancel_at"] = None
        subscription["canceled_at"] = None
        subscription["cancellation_details"]["reason"] = None


@routes.post("/v1/subscriptions/{subscription}", params=UPDATE, returns=SUBSCRIPTION)
def update(call: Call) -> JSON:
    params = call.params
    subscription = call.store.require(SUBSCRIPTION, call.path["subscription"])
    before = copy.deepcopy(subscription)
    if subscription["status"] in ENDED and set(params) - CANCELED_UPDATABLE:
        raise invalid_request(
            "A canceled subscription can only update its cancellation_details and metadata.",
            code="invalid_canceled_subscription_fields",
        )
    collection_method = str(params.get("collection_method", subscription["collection_method"]))
    days_until_due = params.get("days_until_due", subscription["days_until_due"])
    if collection_method == "charge_automatically" and "days_until_due" not in params:
        days_until_due = None
    if "collection_method" in params or "days_until_due" in params:
        check_collection(collection_method, days_until_due)
    if "automatic_tax" in params:
        check_automatic_tax(params["automatic_tax"], "automatic_tax")
    if "cancel_at_period_end" in params and "cancel_at" in params:
        raise invalid_request("You may only specify one of these parameters: cancel_at, cancel_at_period_end.")
    if isinstance(params.get("cancel_at"), str):
        raise StripeError(
            400,
            f"The Stripe emulator does not model `cancel_at={params['cancel_at']}` yet; pass a timestamp.",
            param="cancel_at",
            code="emulator_unsupported_parameter",
            saved=False,
        )
    changes = plan_item_changes(call, subscription, params.get("items", []), "items")

    subscription["collection_method"] = collection_method
    subscription["days_until_due"] = days_until_due
    if "description" in params:
        subscription["description"] = None if params["description"] is UNSET else params["description"]
    if "default_payment_method" in params:
        default = params["default_payment_method"]
        if default is not UNSET:
            payments.require_attached(call, default, subscription["customer"], param="default_payment_method")
        subscription["default_payment_method"] = None if default is UNSET else default
    if "metadata" in params:
        subscription["metadata"] = apply_metadata(subscription["metadata"], params["metadata"])
    if "cancellation_details" in params:
        for name, value in params["cancellation_details"].items():
            subscription["cancellation_details"][name] = None if value is UNSET else value
    if "cancel_at_period_end" in params:
        _set_cancel_at_period_end(call, subscription, params["cancel_at_period_end"])
    if "cancel_at" in params:
        cancel_at = params["cancel_at"]
        subscription["cancel_at"] = None if cancel_at is UNSET else cancel_at
        subscription["cancel_at_period_end"] = False
        subscription["canceled_at"] = None if cancel_at is UNSET else call.now
    if changes:
        subscription = apply_item_changes(
            call,
            subscription,
            changes,
            params.get("proration_behavior", "create_prorations"),
            at=params.get("proration_date"),
        )
    else:
        subscription = sync_items(call, subscription)
    events.record(call, "customer.subscription.updated", subscription, previous=before)
    return subscription


@routes.delete("/v1/subscriptions/{subscription}", params=CANCEL, returns=SUBSCRIPTION)
def cancel(call: Call) -> JSON:
    subscription = require_live(call, call.path["subscription"])
    return end(
        call,
        subscription,
        invoice_now=bool(call.params.get("invoice_now")),
        prorate=bool(call.params.get("prorate")),
        details=call.params.get("cancellation_details"),
    )


@routes.get("/v1/subscriptions", params=LIST, returns=SUBSCRIPTION, is_list=True)
def list_subscriptions(call: Call) -> JSON:
    params: dict[str, Any] = call.params
    status = params.get("status")
    price = params.get("price") or params.get("plan")

    def matches(subscription: JSON) -> bool:
        if status is None and subscription["status"] in ENDED:
            return False
        if status == "ended" and subscription["status"] not in ENDED:
            return False
        if status not in (None, "all", "ended") and subscription["status"] != status:
            return False
        if any(subscription[name] != params[name] for name in ("customer", "collection_method") if name in params):
            return False
        if "automatic_tax" in params and subscription["automatic_tax"]["enabled"] != params["automatic_tax"]["enabled"]:
            return False
        if price is not None and all(item["price"]["id"] != price for item in subscription["items"]["data"]):
            return False
        return in_range(subscription["created"], params.get("created"))

    return paginate(call, SUBSCRIPTION, call.store.all(SUBSCRIPTION, matches))
