"""The ``/v1/subscriptions`` endpoints: create, retrieve, update, cancel, list and search (see the package
docstring)."""

from __future__ import annotations

import copy
from typing import Any

from ...errors import StripeError, invalid_request, missing_parameter, resource_missing
from ...lists import paginate
from ...params import UNSET, apply_metadata, in_range
from ...routing import Call, RouteTable
from ...search import SEARCH_PARAMS, search_page
from ...store import JSON
from .. import billing, events, invoices, payments
from ..customers import check_currency
from ..kinds import CUSTOMER, SUBSCRIPTION
from .ending import end
from .item_changes import apply_item_changes, plan_item_changes, require_live
from .objects import period_end_of, record_start, start, sync_items
from .validation import (
    CANCEL,
    CANCELED_UPDATABLE,
    CREATE,
    ENDED,
    LIST,
    RETRIEVE,
    SEARCH_FIELDS,
    UPDATE,
    check_automatic_tax,
    check_collection,
    resolve_items,
)

routes = RouteTable()


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
