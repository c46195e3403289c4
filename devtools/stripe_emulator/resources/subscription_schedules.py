"""Subscription schedules (https://docs.stripe.com/api/subscription_schedules,
https://docs.stripe.com/billing/subscriptions/subscription-schedules).

The emulator models the shape the project uses: one phase starting ``now``.

- ``start_date=now`` creates the subscription at once: the schedule is ``active`` with ``subscription``
  set and ``current_phase`` the phase's dates; the subscription is ``active`` and its first invoice a
  ``draft`` with ``auto_advance: true`` whatever the collection method — the way to start a
  subscription whose first invoice "always begins in a draft status" (SDK, subscriptions.create). A
  timestamp ``start_date`` (backdated or future) and several phases are refused as not modeled.
- A phase lasts ``duration`` or until ``end_date`` (not both); without either, one interval of its
  prices. Since API 2025-09-30.clover ``iterations`` is gone: sending it is ``parameter_unknown``
  (https://docs.stripe.com/changelog/clover/2025-09-30/remove-iterations).
- Phase items follow the subscription item rules (a metered price takes no ``quantity``); the phase
  ``currency`` defaults to the prices'. Phase ``metadata`` becomes the subscription's metadata; the
  schedule's own ``metadata`` stays on the schedule. Phase settings override ``default_settings``.
- **Release** keeps the subscription and detaches it: ``status: released``, ``released_at``,
  ``released_subscription`` = the subscription, ``subscription: null``; the subscription's ``schedule``
  becomes ``null``. Only ``not_started`` or ``active`` schedules can be released or canceled: "You
  cannot release a subscription schedule that is currently in the `released` status."
- **Cancel** cancels the subscription with it (``invoice_now`` and ``prorate`` default to true).
- **The end of the phase** (the clock rule :func:`end_due`, applied before renewals at the same moment):
  the schedule is ``completed`` (``completed_at``, ``current_phase: null``,
  ``subscription_schedule.completed``). ``end_behavior: release`` (the default) releases the subscription
  (``released_subscription`` = it, ``subscription: null``; the subscription's ``schedule`` becomes
  ``null``) and it renews at its period end like any other; ``cancel`` cancels it at the phase end, its
  pending items and usage billed on a final invoice. Until then a subscription on its schedule renews at
  each period end within the phase. The legacy values ``none`` and ``renew`` are refused as not modeled.
  That a naturally ending schedule is ``completed`` (not ``released``) follows Stripe's guide and its CLI
  fixture for ``subscription_schedule.completed`` (a one-phase schedule, ``end_behavior=release``, a test
  clock advanced past the phase, https://github.com/stripe/stripe-cli/pull/1462); the links
  (``released_subscription``) are the emulator's reading of "the subscription is released".
  Not modeled: ``subscription_schedule.expiring`` (7 days before), the ``cancel_at`` a ``cancel`` schedule
  sets on its subscription.
- Events: ``subscription_schedule.created``, ``.updated``, ``.released``, ``.canceled``, ``.completed``,
  with the subscription's ``customer.subscription.*`` and ``invoice.created`` events.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import StripeError, exclusive_parameters, invalid_request, missing_parameter
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
    RangeFilter,
    Str,
    Unsupported,
    apply_metadata,
    in_range,
)
from ..routing import Call, RouteTable
from ..store import JSON, Store
from . import billing, events
from .customers import check_currency, require_billable_customer
from .kinds import SUBSCRIPTION, SUBSCRIPTION_SCHEDULE
from .subscriptions import ending, objects, validation

routes = RouteTable()

END_BEHAVIORS = ("cancel", "none", "release", "renew")
INTERVALS = ("day", "month", "week", "year")

PHASE_ITEM = Obj(
    {
        "billing_thresholds": Unsupported(),
        "discounts": Unsupported(),
        "metadata": Metadata(),
        "plan": Unsupported(),
        "price": Str(),
        "price_data": Unsupported(),
        "quantity": Int(min=0),
        "tax_rates": Unsupported(),
    }
)
INVOICE_SETTINGS = Obj(
    {
        "account_tax_ids": Unsupported(),
        "custom_fields": Unsupported(),
        "days_until_due": Int(min=0),
        "description": Unsupported(),
        "footer": Unsupported(),
        "issuer": Unsupported(),
    }
)
PHASE = Obj(
    {
        "add_invoice_items": Unsupported(),
        "application_fee_percent": Unsupported(),
        "automatic_tax": validation.AUTOMATIC_TAX,
        "billing_cycle_anchor": Enum("automatic", "phase_start"),
        "billing_thresholds": Unsupported(),
        "collection_method": Enum(*validation.COLLECTION_METHODS),
        "currency": Currency(),
        "default_payment_method": Unsupported(),
        "default_tax_rates": Unsupported(),
        "description": Str(emptyable=True, max_length=500),
        "discounts": Unsupported(),
        "duration": Obj({"interval": Enum(*INTERVALS, required=True), "interval_count": Int(min=1)}),
        "end_date": Int(),
        "invoice_settings": INVOICE_SETTINGS,
        "items": ListOf(PHASE_ITEM, required=True, max_items=validation.MAX_ITEMS),
        "metadata": Metadata(),
        "on_behalf_of": Unsupported(),
        "proration_behavior": Enum(*validation.PRORATION_BEHAVIORS),
        "transfer_data": Unsupported(),
        "trial": Unsupported(),
        "trial_end": Unsupported(),
    }
)
DEFAULT_SETTINGS = Obj(
    {
        "application_fee_percent": Unsupported(),
        "automatic_tax": validation.AUTOMATIC_TAX,
        "billing_cycle_anchor": Enum("automatic", "phase_start"),
        "billing_thresholds": Unsupported(),
        "collection_method": Enum(*validation.COLLECTION_METHODS),
        "default_payment_method": Unsupported(),
        "description": Str(emptyable=True, max_length=500),
        "invoice_settings": INVOICE_SETTINGS,
        "on_behalf_of": Unsupported(),
        "transfer_data": Unsupported(),
    }
)
CREATE = Obj(
    {
        "billing_mode": validation.BILLING_MODE,
        "customer": Str(),
        "customer_account": Unsupported(),
        "default_settings": DEFAULT_SETTINGS,
        "end_behavior": Enum(*END_BEHAVIORS),
        "expand": EXPAND,
        "from_subscription": Unsupported(),
        "metadata": Metadata(),
        "pause_schedules": Unsupported(),
        "phases": ListOf(PHASE),
        "start_date": IntOrKeyword("now"),
    }
)
UPDATE = Obj(
    {
        "default_settings": Unsupported(),
        "end_behavior": Enum(*END_BEHAVIORS),
        "expand": EXPAND,
        "metadata": Metadata(),
        "pause_schedules": Unsupported(),
        "phases": Unsupported(),
        "proration_behavior": Unsupported(),
    }
)
RELEASE = Obj({"expand": EXPAND, "preserve_cancel_date": Bool()})
CANCEL = Obj({"expand": EXPAND, "invoice_now": Bool(), "prorate": Bool()})
RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(
    canceled_at=RangeFilter(),
    completed_at=RangeFilter(),
    created=RangeFilter(),
    customer=Str(),
    customer_account=Unsupported(),
    released_at=RangeFilter(),
    scheduled=Bool(),
)


def _unmodeled(message: str, param: str) -> StripeError:
    return StripeError(
        400,
        f"The Stripe emulator does not model {message} yet. Extend devtools/stripe_emulator if the project needs it.",
        param=param,
        code="emulator_unsupported_parameter",
        saved=False,
    )


def _check_end_behavior(params: dict[str, Any]) -> None:
    if params.get("end_behavior") in ("none", "renew"):
        raise _unmodeled(f"`end_behavior={params['end_behavior']}` (only `release` and `cancel`)", "end_behavior")


def _tax(value: dict[str, Any] | None) -> JSON | None:
    if value is None:
        return None
    return {"disabled_reason": None, "enabled": bool(value["enabled"]), "liability": None}


def _invoice_settings(value: dict[str, Any] | None, issuer: JSON | None) -> JSON:
    return {
        "account_tax_ids": None,
        "custom_fields": None,
        "days_until_due": (value or {}).get("days_until_due"),
        "description": None,
        "footer": None,
        "issuer": issuer,
    }


def _phase_end(phase: dict[str, Any], specs: list[validation.ItemSpec], now: int) -> int:
    if "duration" in phase and "end_date" in phase:
        raise exclusive_parameters("phases[0][duration]", "phases[0][end_date]")
    if "end_date" in phase:
        if phase["end_date"] <= now:
            raise invalid_request("The end_date of a phase must be after its start_date.", param="phases[0][end_date]")
        return int(phase["end_date"])
    if "duration" in phase:
        duration = phase["duration"]
        return billing.add_interval(now, duration["interval"], duration.get("interval_count", 1))
    return max(billing.price_period_end(spec.price, now) for spec in specs)


@routes.post("/v1/subscription_schedules", params=CREATE, returns=SUBSCRIPTION_SCHEDULE)
def create(call: Call) -> JSON:
    params = call.params
    if "customer" not in params:
        raise missing_parameter("customer")
    customer = require_billable_customer(call, params["customer"], "customer")
    _check_end_behavior(params)
    if params.get("start_date", "now") != "now":
        raise _unmodeled("a timestamp `start_date` (only `now`)", "start_date")
    phases = params.get("phases") or []
    if not phases:
        raise missing_parameter("phases")
    if len(phases) > 1:
        raise _unmodeled("schedules of several phases", "phases[1]")
    phase: dict[str, Any] = phases[0]
    defaults: dict[str, Any] = params.get("default_settings", {})
    collection_method = phase.get("collection_method", defaults.get("collection_method", "charge_automatically"))
    days_until_due = (phase.get("invoice_settings") or {}).get(
        "days_until_due", (defaults.get("invoice_settings") or {}).get("days_until_due")
    )
    validation.check_collection(collection_method, days_until_due)
    validation.check_automatic_tax(phase.get("automatic_tax"), "phases[0][automatic_tax]")
    validation.check_automatic_tax(defaults.get("automatic_tax"), "default_settings[automatic_tax]")
    specs, currency = validation.resolve_items(call, phase["items"], "phases[0][items]", phase.get("currency"))
    end_date = _phase_end(phase, specs, call.now)
    check_currency(call, customer, currency)

    schedule_id = call.store.new_id(SUBSCRIPTION_SCHEDULE)
    description = phase.get("description", defaults.get("description"))
    subscription, invoice = objects.start(
        call,
        customer=customer,
        specs=specs,
        currency=currency,
        collection_method=collection_method,
        days_until_due=days_until_due,
        metadata=apply_metadata({}, phase.get("metadata")),
        description=None if description is UNSET else description,
        billing_mode=params.get("billing_mode"),
        schedule_id=schedule_id,
        finalize_first_invoice=False,
    )
    schedule: JSON = {
        "id": schedule_id,
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": copy.deepcopy(subscription["billing_mode"]),
        "canceled_at": None,
        "completed_at": None,
        "created": call.now,
        "current_phase": {"end_date": end_date, "start_date": call.now},
        "customer": customer["id"],
        "customer_account": None,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": _tax(defaults.get("automatic_tax"))
            or {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": defaults.get("billing_cycle_anchor", "automatic"),
            "billing_thresholds": None,
            "collection_method": defaults.get("collection_method", "charge_automatically"),
            "default_payment_method": None,
            "description": None if defaults.get("description") is UNSET else defaults.get("description"),
            "invoice_settings": _invoice_settings(defaults.get("invoice_settings"), {"type": "self"}),
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": params.get("end_behavior", "release"),
        "livemode": False,
        "metadata": apply_metadata({}, params.get("metadata")),
        "pause_schedules": [],  # pausing is not modeled: never any
        "phases": [
            {
                "add_invoice_items": [],
                "application_fee_percent": None,
                "automatic_tax": _tax(phase.get("automatic_tax")),
                "billing_cycle_anchor": phase.get("billing_cycle_anchor"),
                "billing_thresholds": None,
                "collection_method": phase.get("collection_method"),
                "currency": currency,
                "default_payment_method": None,
                "default_tax_rates": [],
                "description": None if phase.get("description") is UNSET else phase.get("description"),
                "discounts": [],
                "end_date": end_date,
                "invoice_settings": (
                    _invoice_settings(phase["invoice_settings"], None) if "invoice_settings" in phase else None
                ),
                "items": [
                    {
                        "billing_thresholds": None,
                        "discounts": [],
                        "metadata": dict(spec.metadata),
                        "plan": spec.price["id"],
                        "price": spec.price["id"],
                        "quantity": spec.quantity,
                        "tax_rates": [],
                    }
                    for spec in specs
                ],
                "metadata": apply_metadata({}, phase.get("metadata")),
                "on_behalf_of": None,
                "proration_behavior": phase.get("proration_behavior", "create_prorations"),
                "start_date": call.now,
                "transfer_data": None,
                "trial_end": None,
            }
        ],
        "released_at": None,
        "released_subscription": None,
        "status": "active",
        "subscription": subscription["id"],
        "test_clock": None,
    }
    stored = call.store.insert(SUBSCRIPTION_SCHEDULE, schedule)
    events.record(call, "subscription_schedule.created", stored)
    objects.record_start(call, subscription, invoice, finalize_first_invoice=False)
    return stored


def _require(call: Call) -> JSON:
    return call.store.require(SUBSCRIPTION_SCHEDULE, call.path["schedule"])


def _require_open(call: Call, action: str) -> JSON:
    schedule = _require(call)
    if schedule["status"] not in ("active", "not_started"):
        raise invalid_request(
            f"You cannot {action} a subscription schedule that is currently in the `{schedule['status']}` status."
        )
    return schedule


@routes.get("/v1/subscription_schedules/{schedule}", params=RETRIEVE, returns=SUBSCRIPTION_SCHEDULE)
def retrieve(call: Call) -> JSON:
    return _require(call)


@routes.post("/v1/subscription_schedules/{schedule}", params=UPDATE, returns=SUBSCRIPTION_SCHEDULE)
def update(call: Call) -> JSON:
    schedule = _require_open(call, "update")
    _check_end_behavior(call.params)
    before = copy.deepcopy(schedule)
    if "metadata" in call.params:
        schedule["metadata"] = apply_metadata(schedule["metadata"], call.params["metadata"])
    if "end_behavior" in call.params:
        schedule["end_behavior"] = call.params["end_behavior"]
    saved = call.store.save(SUBSCRIPTION_SCHEDULE, schedule)
    events.record(call, "subscription_schedule.updated", saved, previous=before)
    return saved


def _detach(call: Call, subscription_id: str | None) -> None:
    """The subscription leaves its schedule (``schedule: null``, ``customer.subscription.updated``) and
    from now on renews like any other."""
    subscription = call.store.get(SUBSCRIPTION, subscription_id) if subscription_id else None
    if subscription is not None:
        before = copy.deepcopy(subscription)
        subscription["schedule"] = None
        events.record(
            call, "customer.subscription.updated", call.store.save(SUBSCRIPTION, subscription), previous=before
        )


@routes.post("/v1/subscription_schedules/{schedule}/release", params=RELEASE, returns=SUBSCRIPTION_SCHEDULE)
def release(call: Call) -> JSON:
    schedule = _require_open(call, "release")
    subscription_id = schedule["subscription"]
    schedule.update(
        {
            "current_phase": None,
            "released_at": call.now,
            "released_subscription": subscription_id,
            "status": "released",
            "subscription": None,
        }
    )
    saved = call.store.save(SUBSCRIPTION_SCHEDULE, schedule)
    events.record(call, "subscription_schedule.released", saved)
    _detach(call, subscription_id)
    return saved


@routes.post("/v1/subscription_schedules/{schedule}/cancel", params=CANCEL, returns=SUBSCRIPTION_SCHEDULE)
def cancel(call: Call) -> JSON:
    schedule = _require_open(call, "cancel")
    subscription = call.store.get(SUBSCRIPTION, schedule["subscription"]) if schedule["subscription"] else None
    if subscription is not None and subscription["status"] not in validation.ENDED:
        ending.end(
            call,
            subscription,
            invoice_now=call.params.get("invoice_now", True),
            prorate=call.params.get("prorate", True),
            details=None,
        )
        return call.store.require(SUBSCRIPTION_SCHEDULE, schedule["id"])
    schedule.update({"canceled_at": call.now, "current_phase": None, "status": "canceled"})
    saved = call.store.save(SUBSCRIPTION_SCHEDULE, schedule)
    events.record(call, "subscription_schedule.canceled", saved)
    return saved


# the end of the last phase ------------------------------------------------------------------------
def _end_moment(schedule: JSON) -> int | None:
    if schedule["status"] != "active" or schedule["current_phase"] is None:
        return None
    return int(schedule["current_phase"]["end_date"])


def end_next_due(store: Store) -> float | None:
    times = [at for schedule in store.scan(SUBSCRIPTION_SCHEDULE) if (at := _end_moment(schedule)) is not None]
    return min(times) if times else None


def end_due(store: Store, now: float) -> None:
    """Clock rule: complete every active schedule whose last phase has ended by ``now``, at its end."""
    due = [
        (moment, schedule)
        for schedule in store.all(SUBSCRIPTION_SCHEDULE)
        if (moment := _end_moment(schedule)) is not None and moment <= now
    ]
    for moment, schedule in sorted(due, key=lambda pair: (pair[0], pair[1]["created"])):
        complete(Call(store, {}, {}, moment, f"/v1/subscription_schedules/{schedule['id']}"), schedule)


def complete(call: Call, schedule: JSON) -> JSON:
    """The last phase has ended: "A subscription schedule is completed after the last phase is finished.
    When this happens, the subscription is released from the schedule ... If you want to cancel a
    subscription after the last phase of a schedule is complete, you can set end_behavior to cancel"
    (https://docs.stripe.com/billing/subscriptions/subscription-schedules). ``completed``,
    ``completed_at``, ``subscription_schedule.completed``; then ``release`` detaches the subscription
    (``released_subscription``), ``cancel`` cancels it, billing its pending items and usage on a final
    invoice as a cancellation at period end does."""
    subscription_id = schedule["subscription"]
    schedule.update({"completed_at": call.now, "current_phase": None, "status": "completed"})
    if schedule["end_behavior"] == "release":
        schedule.update({"released_subscription": subscription_id, "subscription": None})
    saved = call.store.save(SUBSCRIPTION_SCHEDULE, schedule)
    events.record(call, "subscription_schedule.completed", saved)
    if schedule["end_behavior"] == "release":
        _detach(call, subscription_id)
        return saved
    subscription = call.store.get(SUBSCRIPTION, subscription_id) if subscription_id else None
    if subscription is not None and subscription["status"] not in validation.ENDED:
        ending.end(call, subscription, invoice_now=True, prorate=False, details=None)
    return saved


@routes.get("/v1/subscription_schedules", params=LIST, returns=SUBSCRIPTION_SCHEDULE, is_list=True)
def list_schedules(call: Call) -> JSON:
    params: dict[str, Any] = call.params

    def matches(schedule: JSON) -> bool:
        if "customer" in params and schedule["customer"] != params["customer"]:
            return False
        if "scheduled" in params and (schedule["status"] == "not_started") != params["scheduled"]:
            return False
        for name in ("canceled_at", "completed_at", "released_at"):
            if name in params and (schedule[name] is None or not in_range(schedule[name], params[name])):
                return False
        return in_range(schedule["created"], params.get("created"))

    return paginate(call, SUBSCRIPTION_SCHEDULE, call.store.all(SUBSCRIPTION_SCHEDULE, matches))
