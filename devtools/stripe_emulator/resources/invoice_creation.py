"""Invoices the API asks for: one-off invoices (``POST /v1/invoices``) and previews
(``POST /v1/invoices/create_preview``). Their lifecycle afterwards is :mod:`.invoices`'.

**One-off invoices** (https://docs.stripe.com/api/invoices/create) bill a customer outside any
subscription: ``billing_reason: manual``, ``parent: null``, a draft.

- ``pending_invoice_items_behavior`` defaults to ``exclude`` (an empty draft; "When the parameter is
  omitted, the default value of pending_invoice_items_behavior is now exclude",
  https://docs.stripe.com/changelog/2022-08-01/removes-include-require-value-invoices); ``include`` takes
  the customer's pending invoice items in the invoice's currency (no event: Stripe has no ``invoiceitem.updated``).
- ``auto_advance`` defaults to ``false`` ("auto_advance now also defaults to false for one-off invoices",
  https://docs.stripe.com/changelog/2018-11-08/one-off-invoices-no-longer-auto-collect-payment); with
  ``true`` the draft is finalized an hour later like any other (``automatically_finalizes_at``, which the
  parameter can set).
- ``collection_method`` defaults to ``charge_automatically``; ``send_invoice`` needs ``days_until_due`` or
  ``due_date`` (not both), which other methods refuse (the messages of invoice updates).
- ``currency`` defaults to the customer's, else the account's (``usd``).
- Events: ``invoice.created``. One-off drafts can be deleted.
- ``subscription`` (an invoice of one subscription's pending items) and ``POST /v1/invoices/{id}/lines/add``
  are not modeled.

**Previews** (https://docs.stripe.com/api/invoices/create_preview): "the invoice has not yet been created.
As such, the upcoming invoice will not show up in invoice listing calls, and you cannot use the API to pay
or edit the invoice." The emulator works the invoice out by doing what would make it on a scratch copy of
its state (:meth:`~..store.Store.scratch_copy`), so the preview is what the real invoice will be; nothing is
stored and no event is recorded. The preview's ``id`` is ``upcoming_`` + an invoice id (Stripe's example:
``upcoming_in_1MtHbE...``, the SDK: "this id will be prefixed with upcoming_in").

- ``subscription``: its next renewal invoice (``billing_reason: upcoming``, the value the SDK reserves for
  previews): the licensed items for the next period, the metered usage counted so far, its pending items.
  With ``subscription_details[items]`` the changes are applied first as of
  ``subscription_details[proration_date]`` (default now; within the current period), so their prorations
  show (``parent.subscription_details.subscription_proration_date``), per
  ``subscription_details[proration_behavior]`` (``create_prorations`` or ``none``).
- ``customer`` alone: the next renewal among its subscriptions; without any, an invoice of its pending
  items (``billing_reason: manual``, as in Stripe's example).
- Nothing upcoming (a canceled subscription, one canceled by its next period end, a customer with neither
  subscriptions nor pending items): 404 ``invoice_upcoming_none`` "No upcoming invoices for customer: cus_…".
- Not modeled (refused): previewing a new subscription (``subscription_details[items]`` without
  ``subscription``), ``always_invoice``, schedules, ``invoice_items``, ``preview_mode``, discounts, taxes.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import StripeError, invalid_request, missing_parameter, unsupported_parameter
from ..params import EXPAND, UNSET, Currency, Enum, Int, ListOf, Obj, Str, Unsupported, apply_metadata
from ..routing import Call, RouteTable
from ..store import JSON
from . import events, invoices, subscription_schedules
from .customers import require_billable_customer
from .kinds import INVOICE, INVOICE_ITEM, SUBSCRIPTION
from .subscriptions import item_changes, objects, renewals, validation

routes = RouteTable()

ACCOUNT_CURRENCY = "usd"
PREVIEW_PREFIX = "upcoming_"

# Creation takes what updates take (https://docs.stripe.com/api/invoices/create), and these.
CREATE = invoices.UPDATE.extend(
    currency=Currency(),
    customer=Str(),
    customer_account=Unsupported(),
    from_invoice=Unsupported(),
    pending_invoice_items_behavior=Enum("exclude", "include"),
    subscription=Unsupported(),
)
SUBSCRIPTION_DETAILS = Obj(
    {
        "billing_cycle_anchor": Unsupported(),
        "billing_mode": Unsupported(),
        "billing_schedules": Unsupported(),
        "cancel_at": Unsupported(),
        "cancel_at_period_end": Unsupported(),
        "cancel_now": Unsupported(),
        "default_tax_rates": Unsupported(),
        "items": ListOf(validation.UPDATE_ITEM, max_items=validation.MAX_ITEMS),
        "metadata": Unsupported(),
        "pause": Unsupported(),
        "proration_behavior": Enum(*validation.PRORATION_BEHAVIORS),
        "proration_date": Int(),
        "resume_at": Unsupported(),
        "start_date": Unsupported(),
        "trial_end": Unsupported(),
    }
)
PREVIEW = Obj(
    {
        "automatic_tax": Unsupported(),
        "currency": Unsupported(),
        "customer": Str(),
        "customer_account": Unsupported(),
        "customer_details": Unsupported(),
        "discounts": Unsupported(),
        "expand": EXPAND,
        "invoice_items": Unsupported(),
        "issuer": Unsupported(),
        "on_behalf_of": Unsupported(),
        "preview_mode": Unsupported(),
        "schedule": Unsupported(),
        "schedule_details": Unsupported(),
        "subscription": Str(),
        "subscription_details": SUBSCRIPTION_DETAILS,
    }
)


# one-off invoices --------------------------------------------------------------------------------
def _check_due(params: dict[str, Any], collection_method: str) -> None:
    given = [name for name in ("days_until_due", "due_date") if name in params]
    if collection_method != "send_invoice" and given:
        raise invalid_request(
            f"You can only specify '{given[0]}' if invoice collection method is 'send_invoice'.", param=given[0]
        )
    if len(given) > 1:
        raise invalid_request("You may only specify one of these parameters: days_until_due, due_date.")
    if collection_method == "send_invoice" and not given:
        raise invalid_request(
            "If invoice collection method is 'send_invoice', you must specify 'due_date' or 'days_until_due'."
        )


def create_one_off(call: Call, customer: JSON, params: dict[str, Any], *, billing_reason: str = "manual") -> JSON:
    """A draft of no subscription for ``customer`` (``params`` as ``POST /v1/invoices`` takes them)."""
    collection_method = params.get("collection_method", "charge_automatically")
    _check_due(params, collection_method)
    currency = params.get("currency") or customer["currency"] or ACCOUNT_CURRENCY
    pending: list[JSON] = []
    if params.get("pending_invoice_items_behavior", "exclude") == "include":
        pending = list(
            reversed(
                call.store.all(
                    INVOICE_ITEM,
                    lambda item: (
                        item["customer"] == customer["id"] and item["invoice"] is None and item["currency"] == currency
                    ),
                )
            )
        )
    # What create_draft reads of the subscription it bills; the invoice's parent is cleared below.
    terms = {
        "id": None,
        "collection_method": collection_method,
        "currency": currency,
        "customer": customer["id"],
        "days_until_due": params.get("days_until_due"),
        "metadata": {},
    }
    auto_advance = bool(params.get("auto_advance", False))
    invoice = invoices.create_draft(
        call,
        subscription=terms,
        billing_reason=billing_reason,
        lines=[],
        invoice_items=pending,
        auto_advance=auto_advance,
        record_event=False,
    )
    invoice["parent"] = None
    for name in ("description", "footer", "statement_descriptor", "due_date"):
        if name in params:
            invoice[name] = None if params[name] is UNSET else params[name]
    invoice["metadata"] = apply_metadata({}, params.get("metadata"))
    if auto_advance and "automatically_finalizes_at" in params:
        invoice["automatically_finalizes_at"] = params["automatically_finalizes_at"]
        if collection_method == "charge_automatically":
            invoice["next_payment_attempt"] = params["automatically_finalizes_at"]
    saved = call.store.save(INVOICE, invoice)
    events.record(call, "invoice.created", saved)
    return saved


@routes.post("/v1/invoices", params=CREATE, returns=INVOICE)
def create(call: Call) -> JSON:
    if "customer" not in call.params:
        raise missing_parameter("customer")
    customer = require_billable_customer(call, call.params["customer"], "customer")
    return create_one_off(call, customer, call.params)


# previews ----------------------------------------------------------------------------------------
def _nothing_upcoming(customer_id: str) -> StripeError:
    return StripeError(404, f"No upcoming invoices for customer: {customer_id}", code="invoice_upcoming_none")


def _renewal_preview(call: Call, subscription: JSON) -> JSON:
    """On the scratch store of ``call``: end what ends by the next renewal (a schedule's last phase) and
    renew, as the clock rules would; the renewal's invoice."""
    moment = renewals.next_renewal(call.store, subscription)
    if moment is not None:
        subscription_schedules.end_due(call.store, moment)
        subscription = call.store.require(SUBSCRIPTION, subscription["id"])
    if moment is None or renewals.next_renewal(call.store, subscription) != moment:
        raise _nothing_upcoming(subscription["customer"])
    renewed = renewals.renew(call.store, subscription, moment)
    invoice = call.store.require(INVOICE, renewed["latest_invoice"])
    invoice["billing_reason"] = "upcoming"
    return invoice


def _apply_changes(call: Call, subscription: JSON, details: dict[str, Any]) -> tuple[JSON, int]:
    """Make the changes of ``subscription_details[items]`` on the scratch store, as of their proration date."""
    behavior = details.get("proration_behavior", "create_prorations")
    if behavior == "always_invoice":
        raise unsupported_parameter("subscription_details[proration_behavior]")
    at = details.get("proration_date", call.now)
    if "proration_date" in details:
        if behavior == "none":
            raise invalid_request(
                "`subscription_details[proration_behavior]` cannot be `none` when `proration_date` is set.",
                param="subscription_details[proration_behavior]",
            )
        items = objects.items_of(call.store, subscription["id"])
        if items and not min(item["current_period_start"] for item in items) <= at < min(
            item["current_period_end"] for item in items
        ):
            raise invalid_request(
                "`subscription_details[proration_date]` must be within the current period of the subscription.",
                param="subscription_details[proration_date]",
            )
    changes = item_changes.plan_item_changes(call, subscription, details["items"], "subscription_details[items]")
    return item_changes.apply_item_changes(call, subscription, changes, behavior, at=at), at


def _subscription_preview(call: Call, params: dict[str, Any]) -> JSON:
    subscription = call.store.get(SUBSCRIPTION, params["subscription"])
    if subscription is None:
        raise invalid_request(f"No such subscription: '{params['subscription']}'", param="subscription")
    if "customer" in params and params["customer"] != subscription["customer"]:
        raise invalid_request(
            f"The subscription {subscription['id']} does not belong to the customer {params['customer']}.",
            param="subscription",
        )
    if subscription["status"] in validation.ENDED:
        raise _nothing_upcoming(subscription["customer"])
    details: dict[str, Any] = params.get("subscription_details", {})
    if "items" not in details:
        if "proration_date" in details:
            raise missing_parameter("subscription_details[items]")
        return _renewal_preview(call, subscription)
    subscription, at = _apply_changes(call, subscription, details)
    invoice = _renewal_preview(call, subscription)
    invoice["parent"]["subscription_details"]["subscription_proration_date"] = at
    return invoice


def _customer_preview(call: Call, customer_id: str) -> JSON:
    customer = require_billable_customer(call, customer_id, "customer")
    live = [
        (moment, subscription)
        for subscription in call.store.all(SUBSCRIPTION, lambda sub: sub["customer"] == customer_id)
        if (moment := renewals.next_renewal(call.store, subscription)) is not None
    ]
    if live:
        _, subscription = min(live, key=lambda pair: (pair[0], pair[1]["created"]))
        return _renewal_preview(call, subscription)
    if not any(item["customer"] == customer_id and item["invoice"] is None for item in call.store.scan(INVOICE_ITEM)):
        raise _nothing_upcoming(customer_id)
    return create_one_off(call, customer, {"pending_invoice_items_behavior": "include"})


@routes.post("/v1/invoices/create_preview", params=PREVIEW, returns=INVOICE)
def create_preview(call: Call) -> JSON:
    params = call.params
    if "subscription" not in params and "customer" not in params:
        raise missing_parameter("customer")
    if "subscription" not in params and "items" in params.get("subscription_details", {}):
        raise unsupported_parameter("subscription_details[items]")  # previewing a new subscription
    scratch = Call(call.store.scratch_copy(), dict(params), {}, call.now, call.url)
    if "subscription" in params:
        invoice = _subscription_preview(scratch, params)
    else:
        invoice = _customer_preview(scratch, params["customer"])
    preview = copy.deepcopy(invoice)
    preview["id"] = PREVIEW_PREFIX + invoice["id"]
    return preview
