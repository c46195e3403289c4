"""Invoices (https://docs.stripe.com/api/invoices) and their lifecycle
(https://docs.stripe.com/invoicing/overview#invoice-lifecycle).

Subscriptions make invoices here: a subscription's first invoice, the invoice of an ``always_invoice``
change, the invoice of each renewal at period end and the final invoice of a cancellation (both
``subscription_cycle``); one-off invoices and previews are :mod:`.invoice_creation`'s.

- **Draft**: lines, totals and ``due_date`` (``send_invoice``: creation + ``days_until_due`` days) are
  set; ``number``, ``hosted_invoice_url`` and ``effective_at`` are ``null``. With ``auto_advance: false``
  it stays a draft until finalized explicitly
  (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection).
- **Finalization timing** (``auto_advance`` drafts). "Stripe waits until one hour after the last webhook
  was successfully sent (or the last webhook timed out after failing). If you ... have no webhooks
  configured, Stripe waits one hour after creation" (https://docs.stripe.com/api/invoices/object);
  "If we don't receive a successful response within 72 hours, we attempt to finalize"
  (https://docs.stripe.com/invoicing/integration/workflow-transitions). So:
  ``webhooks_delivered_at`` is the creation time when no endpoint gets the invoice's ``invoice.created``
  ("If the invoice had no webhooks to deliver, this will be set while the invoice is being created", SDK),
  else ``null`` until every delivery of that event has ended — delivered, or given up after its last
  retry — and then the emulator time it ended. ``automatically_finalizes_at`` ("the time when this
  invoice is currently scheduled to be automatically finalized") starts at creation + 1 hour (the
  default grace period, https://docs.stripe.com/invoicing/scheduled-finalization); if the deliveries are
  still going on then, the draft is not finalized and the time moves to creation + 72 hours; when they
  end it becomes ``webhooks_delivered_at`` + 1 hour, at most creation + 72 hours. A time set with
  ``automatically_finalizes_at`` is kept whatever the webhooks do ("When you use a custom finalization
  time for invoices, finalization won't be delayed because of invoice.created webhook failures", same
  page). Clearing ``auto_advance`` clears ``automatically_finalizes_at``; setting it again schedules the
  default time again. Deliveries run in real time, the grace in emulator time: see the emulator README.
- **Finalize** (``POST /v1/invoices/{id}/finalize``, or the clock): ``open``, ``number``
  ``<customer.invoice_prefix>-NNNN`` from the customer's ``next_invoice_sequence``,
  ``status_transitions.finalized_at``, ``effective_at``, ``hosted_invoice_url``/``invoice_pdf``. An
  invoice with nothing due (``amount_due`` 0) is ``paid`` at once. ``auto_advance`` is set only when
  passed. A non-draft: "This invoice is already finalized, you can't re-finalize a non-draft invoice."
- **Payment collection** (payment attempts, retries, ``pay``, ``past_due``) is :mod:`.payments`' work: it
  keeps ``next_payment_attempt`` in step through :data:`ON_COLLECTION_CHANGE`. The customer's credit
  balance is not applied (``starting_balance`` 0; a negative total is simply ``amount_due`` 0).
- **Send** (``send_invoice`` collection only): a draft is finalized first; records ``invoice.sent``.
- **Void**: open and uncollectible invoices (Stripe's transition table,
  https://docs.stripe.com/invoicing/integration/workflow-transitions: ``uncollectible`` →
  ``POST /v1/invoices/:id/void`` → ``void``). **Mark uncollectible**: open invoices only. Otherwise "You
  can only pass in open invoices. This invoice isn't open."
- **Lines**: the stored invoice holds them all; responses and events embed the first page
  (:mod:`.invoice_lines`, which also serves ``GET /v1/invoices/{id}/lines``).
- **Update**: drafts accept every modeled field; finalized invoices only ``metadata`` (and
  ``auto_advance`` while open or uncollectible) — anything else is "Finalized invoices can't be updated
  in this way". Subscription invoices cannot be deleted (void them).
- **Events**: ``invoice.created``, ``invoice.updated``, ``invoice.finalized``, ``invoice.paid`` (and
  ``invoice.payment_succeeded`` when a $0 invoice settles at finalization), ``invoice.sent``,
  ``invoice.voided``, ``invoice.marked_uncollectible``, ``invoice.deleted``. Transitions the clock
  makes carry ``request: {"id": null, "idempotency_key": null}`` and the emulator time they were due.
- Lists filter on ``customer``, ``subscription`` (``parent.subscription_details.subscription``),
  ``status``, ``collection_method``, ``created``, ``due_date``; search takes ``created``, ``currency``,
  ``customer``, ``metadata``, ``number``, ``status``, ``subscription``, ``total``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..errors import invalid_request
from ..lists import list_params, paginate
from ..params import (
    EXPAND,
    UNSET,
    Bool,
    Enum,
    Int,
    Metadata,
    Obj,
    RangeFilter,
    Str,
    Unsupported,
    apply_metadata,
    in_range,
)
from ..routing import Call, RouteTable
from ..search import METADATA, SEARCH_PARAMS, SearchField, number_field, search_page, string_field
from ..store import JSON, Store, random_token
from . import events, webhook_endpoints
from .kinds import CUSTOMER, INVOICE, INVOICE_ITEM

routes = RouteTable()

AUTO_ADVANCE_DELAY = 60 * 60
# However its invoice.created webhooks fare, an auto_advance draft is finalized within 72 h of its creation.
WEBHOOKS_WAIT_LIMIT = 72 * 60 * 60
# store.state: ids of the drafts whose automatically_finalizes_at was set through the API
CUSTOM_FINALIZATION = "invoices.custom_finalization"
COLLECTION_METHODS = ("charge_automatically", "send_invoice")
STATUSES = ("draft", "open", "paid", "uncollectible", "void")
NOT_OPEN = "You can only pass in open invoices. This invoice isn't open."
NO_PAYMENT_METHOD = (
    "This customer has no attached payment source or default payment method. Please consider adding a "
    "default payment method. For more information, visit "
    "https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority."
)
ACCOUNT_ID = "acct_1StripeEmulator0"

UPDATE = Obj(
    {
        "account_tax_ids": Unsupported(),
        "application_fee_amount": Unsupported(),
        "auto_advance": Bool(),
        "automatic_tax": Unsupported(),
        "automatically_finalizes_at": Int(),
        "collection_method": Enum(*COLLECTION_METHODS),
        "custom_fields": Unsupported(),
        "days_until_due": Int(min=0),
        "default_payment_method": Unsupported(),
        "default_source": Unsupported(),
        "default_tax_rates": Unsupported(),
        "description": Str(emptyable=True, max_length=1500),
        "discounts": Unsupported(),
        "due_date": Int(),
        "effective_at": Unsupported(),
        "expand": EXPAND,
        "footer": Str(emptyable=True, max_length=5000),
        "issuer": Unsupported(),
        "metadata": Metadata(),
        "number": Unsupported(),
        "on_behalf_of": Unsupported(),
        "payment_settings": Unsupported(),
        "rendering": Unsupported(),
        "shipping_cost": Unsupported(),
        "shipping_details": Unsupported(),
        "statement_descriptor": Str(emptyable=True, max_length=22),
        "transfer_data": Unsupported(),
    }
)
FINALIZE = Obj({"auto_advance": Bool(), "expand": EXPAND})
ACTION = Obj({"expand": EXPAND})
DELETE = Obj({})
RETRIEVE = Obj({"expand": EXPAND})
LIST = list_params(
    collection_method=Enum(*COLLECTION_METHODS),
    created=RangeFilter(),
    customer=Str(),
    customer_account=Unsupported(),
    due_date=RangeFilter(),
    status=Enum(*STATUSES),
    subscription=Str(),
)


def subscription_of(invoice: JSON) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = details.get("subscription")
    return str(subscription) if subscription else None


SEARCH_FIELDS: dict[str, SearchField] = {
    "created": number_field("created"),
    "currency": string_field("currency"),
    "customer": string_field("customer"),
    "metadata": METADATA,
    "number": string_field("number"),
    "status": string_field("status"),
    "subscription": SearchField("string", subscription_of),
    "total": number_field("total"),
}
# What a finalized invoice still accepts, by status.
FINALIZED_UPDATABLE = {
    "open": {"metadata", "auto_advance", "expand"},
    "uncollectible": {"metadata", "auto_advance", "expand"},
    "paid": {"metadata", "expand"},
    "void": {"metadata", "expand"},
}


# Called as ``hook(call, invoice)`` on a draft about to be finalized (the invoice as a mutable dict):
# subscriptions refresh the usage lines of a renewal invoice with usage that arrived during the grace period.
BEFORE_FINALIZE: list[Callable[[Call, JSON], None]] = []

# Called as ``hook(call, invoice)`` on a finalized invoice whose status or ``auto_advance`` just changed,
# before it is saved: payments (resources/payments.py) schedule or clear its ``next_payment_attempt``.
ON_COLLECTION_CHANGE: list[Callable[[Call, JSON], None]] = []


def collection_changed(call: Call, invoice: JSON) -> None:
    for hook in ON_COLLECTION_CHANGE:
        hook(call, invoice)


# lines -------------------------------------------------------------------------------------------
def subscription_line(
    subscription: JSON,
    item_id: str,
    price: JSON,
    *,
    quantity: int,
    amount: int,
    period: JSON,
    description: str,
    proration: bool = False,
    invoice_item: str | None = None,
) -> JSON:
    """A line billing a subscription item (``parent.subscription_item_details``)."""
    return {
        "object": "line_item",
        "amount": amount,
        "currency": subscription["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": not proration,
        "discounts": [],
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription["id"],
                "subscription_item": item_id,
            },
            "type": "subscription_item_details",
        },
        "period": {"end": period["end"], "start": period["start"]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": None if proration else price["unit_amount_decimal"],
        },
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": subscription["id"],
        "subtotal": amount,
        "taxes": [],
    }


def invoice_item_line(item: JSON) -> JSON:
    """The line a pending invoice item becomes on an invoice."""
    details = (item.get("parent") or {}).get("subscription_details")
    pricing = item.get("pricing") or {"price_details": None, "type": "price_details", "unit_amount_decimal": None}
    parent: JSON
    if details:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": item["id"],
                "proration": item["proration"],
                "proration_details": {"credited_items": None},
                "subscription": details["subscription"],
                "subscription_item": details.get("subscription_item"),
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": item["id"],
                "proration": item["proration"],
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discount_amounts": [],
        "discountable": item["discountable"],
        "discounts": [],
        "livemode": False,
        "metadata": dict(item["metadata"]),
        "parent": parent,
        "period": dict(item["period"]),
        "pretax_credit_amounts": [],
        "pricing": copy.deepcopy(pricing),
        "quantity": item["quantity"],
        "quantity_decimal": str(item["quantity"]),
        "subscription": details["subscription"] if details else None,
        "subtotal": item["amount"],
        "taxes": [],
    }


def _refresh_totals(invoice: JSON) -> None:
    subtotal = sum(int(line["amount"]) for line in invoice["lines"]["data"])
    due = max(subtotal, 0)
    invoice.update(
        {
            "amount_due": due,
            "amount_paid": 0,
            "amount_remaining": due,
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "total": subtotal,
            "total_excluding_tax": subtotal,
        }
    )


def _customer_snapshot(store: Store, customer_id: str) -> JSON:
    customer = store.require(CUSTOMER, customer_id, param="customer", status=400)
    return {
        "customer_address": customer.get("address"),
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"),
        "customer_tax_exempt": customer.get("tax_exempt", "none"),
        "customer_tax_ids": [],
    }


# creation ----------------------------------------------------------------------------------------
def create_draft(
    call: Call,
    *,
    subscription: JSON,
    billing_reason: str,
    lines: list[JSON],
    invoice_items: list[JSON] | None = None,
    auto_advance: bool,
    record_event: bool = True,
    period: tuple[int, int] | None = None,
) -> JSON:
    """A draft invoice of ``subscription`` with ``lines`` and the pending ``invoice_items`` it takes.

    ``period`` is the invoice's ``period_start``/``period_end`` (a renewal's: the period that ended, whose
    usage it bills); the creation time otherwise."""
    invoice_items = invoice_items or []
    invoice_id = call.store.new_id(INVOICE)
    all_lines = [*lines, *(invoice_item_line(item) for item in invoice_items)]
    for line in all_lines:
        line["id"] = "il_" + random_token(24)
        line["invoice"] = invoice_id
    collection_method = subscription["collection_method"]
    days_until_due = subscription["days_until_due"]
    finalizes_at = call.now + AUTO_ADVANCE_DELAY if auto_advance else None
    webhooks_pending = bool(webhook_endpoints.targets(call.store, "invoice.created"))
    invoice: JSON = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe emulator",
        "account_tax_ids": None,
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": auto_advance,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": finalizes_at,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "confirmation_secret": None,
        "created": call.now,
        "currency": subscription["currency"],
        "custom_fields": None,
        "customer": subscription["customer"],
        "customer_account": None,
        **_customer_snapshot(call.store, subscription["customer"]),
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": (
            call.now + int(days_until_due) * 86_400
            if collection_method == "send_invoice" and days_until_due is not None
            else None
        ),
        "effective_at": None,
        "ending_balance": None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": all_lines,
            "has_more": False,
            "total_count": len(all_lines),
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": finalizes_at if collection_method == "charge_automatically" else None,
        "number": None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription["metadata"]),
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": period[1] if period else call.now,
        "period_start": period[0] if period else call.now,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "test_clock": None,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None if webhooks_pending else call.now,
    }
    _refresh_totals(invoice)
    stored = call.store.insert(INVOICE, invoice)
    for item in invoice_items:
        # Stripe sends no event for a pending item attached to an invoice (it has no invoiceitem.updated)
        attached = call.store.require(INVOICE_ITEM, item["id"])
        attached["invoice"] = invoice_id
        call.store.save(INVOICE_ITEM, attached)
    if record_event:
        events.record(call, "invoice.created", stored)
    return stored


# transitions -------------------------------------------------------------------------------------
def finalize(call: Call, invoice: JSON, *, auto_advance: bool | None = None) -> JSON:
    """Draft -> open (or paid when nothing is due); records ``invoice.finalized`` (and ``invoice.paid``)."""
    _require_live_customer(call, invoice)
    for hook in BEFORE_FINALIZE:
        hook(call, invoice)
    _refresh_totals(invoice)
    customer = call.store.require(CUSTOMER, invoice["customer"])
    sequence = int(customer["next_invoice_sequence"])
    customer["next_invoice_sequence"] = sequence + 1
    call.store.save(CUSTOMER, customer)
    token = random_token(40)
    invoice.update(_customer_snapshot(call.store, invoice["customer"]))
    invoice.update(
        {
            "automatically_finalizes_at": None,
            "effective_at": call.now,
            "ending_balance": invoice["starting_balance"],
            "hosted_invoice_url": f"https://invoice.stripe.com/i/{ACCOUNT_ID}/test_{token}?s=ap",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{ACCOUNT_ID}/test_{token}/pdf?s=ap",
            "next_payment_attempt": None,
            "number": f"{customer['invoice_prefix']}-{sequence:04d}",
            "status": "open",
        }
    )
    invoice["status_transitions"]["finalized_at"] = call.now
    if auto_advance is not None:
        invoice["auto_advance"] = auto_advance
    collection_changed(call, invoice)
    saved = call.store.save(INVOICE, invoice)
    events.record(call, "invoice.finalized", saved)
    if saved["amount_due"] == 0:
        saved["attempted"] = True
        saved = mark_paid(call, saved, event_types=("invoice.paid", "invoice.payment_succeeded"))
    return saved


def mark_paid(call: Call, invoice: JSON, *, event_types: tuple[str, ...]) -> JSON:
    invoice.update({"amount_paid": invoice["amount_due"], "amount_remaining": 0, "status": "paid"})
    invoice["status_transitions"]["paid_at"] = call.now
    collection_changed(call, invoice)
    saved = call.store.save(INVOICE, invoice)
    for event_type in event_types:
        events.record(call, event_type, saved)
    return saved


def _grace_end(invoice: JSON) -> int:
    """The default finalization time: an hour after the ``invoice.created`` webhooks ended (after creation
    while they have not), at most :data:`WEBHOOKS_WAIT_LIMIT` after creation."""
    created = int(invoice["created"])
    delivered = invoice["webhooks_delivered_at"]
    start = created if delivered is None else int(delivered)
    return min(start + AUTO_ADVANCE_DELAY, created + WEBHOOKS_WAIT_LIMIT)


def _schedule_finalization(invoice: JSON, at: int | None) -> None:
    """Set when a draft finalizes; a ``charge_automatically`` one attempts payment then."""
    invoice["automatically_finalizes_at"] = at
    automatic_charge = at is not None and invoice["collection_method"] == "charge_automatically"
    invoice["next_payment_attempt"] = at if automatic_charge else None


def _custom_finalization(store: Store) -> set[str]:
    return store.state(CUSTOM_FINALIZATION, set)


def _awaits_webhooks(store: Store, invoice: JSON, moment: int) -> bool:
    """Whether finalization due at ``moment`` waits for the invoice's ``invoice.created`` deliveries."""
    return (
        invoice["webhooks_delivered_at"] is None
        and invoice["id"] not in _custom_finalization(store)
        and moment < int(invoice["created"]) + WEBHOOKS_WAIT_LIMIT
    )


def note_webhooks_delivered(store: Store, event: JSON, moment: int) -> None:
    """``webhook_endpoints.DELIVERIES_ENDED`` hook: every delivery of an ``invoice.created`` ended at
    ``moment`` (emulator time): set ``webhooks_delivered_at``; a draft on the default schedule now
    finalizes an hour later (no event: Stripe records none for this)."""
    if event["type"] != "invoice.created":
        return
    invoice = store.get(INVOICE, event["data"]["object"]["id"])
    if invoice is None or invoice["webhooks_delivered_at"] is not None:
        return
    invoice["webhooks_delivered_at"] = moment
    if (
        invoice["status"] == "draft"
        and invoice["automatically_finalizes_at"] is not None
        and invoice["id"] not in _custom_finalization(store)
    ):
        _schedule_finalization(invoice, _grace_end(invoice))
    store.save(INVOICE, invoice)


def _finalizes_at(invoice: JSON) -> int | None:
    if invoice["status"] == "draft" and invoice["auto_advance"]:
        return invoice["automatically_finalizes_at"]  # type: ignore[no-any-return]
    return None


def finalize_next_due(store: Store) -> float | None:
    times = [at for invoice in store.scan(INVOICE) if (at := _finalizes_at(invoice)) is not None]
    return min(times) if times else None


def finalize_due(store: Store, now: float) -> None:
    """Clock rule: finalize every auto-advancing draft whose ``automatically_finalizes_at`` has come, at
    the time it was due, in that order; one still waiting for its ``invoice.created`` webhooks is put off
    to the 72-hour limit instead."""
    due = store.all(
        INVOICE,
        lambda invoice: (
            invoice["status"] == "draft"
            and invoice["auto_advance"]
            and invoice["automatically_finalizes_at"] is not None
            and invoice["automatically_finalizes_at"] <= now
        ),
    )
    for invoice in sorted(due, key=lambda invoice: (invoice["automatically_finalizes_at"], invoice["created"])):
        moment = int(invoice["automatically_finalizes_at"])
        if _awaits_webhooks(store, invoice, moment):
            _schedule_finalization(invoice, int(invoice["created"]) + WEBHOOKS_WAIT_LIMIT)
            store.save(INVOICE, invoice)
            continue
        finalize(Call(store, {}, {}, moment, f"/v1/invoices/{invoice['id']}/finalize"), invoice)


def stop_collection(call: Call, customer_id: str) -> None:
    """After a cancellation Stripe "stops automatic collection of all finalized invoices for the
    customer": open invoices lose ``auto_advance`` (``invoice.updated``)."""
    for invoice in call.store.all(
        INVOICE, lambda inv: inv["customer"] == customer_id and inv["status"] == "open" and inv["auto_advance"]
    ):
        before = copy.deepcopy(invoice)
        invoice["auto_advance"] = False
        collection_changed(call, invoice)
        events.record(call, "invoice.updated", call.store.save(INVOICE, invoice), previous=before)


def _require_live_customer(call: Call, invoice: JSON) -> None:
    """A deleted customer's draft cannot be finalized: deleting a customer "prevents any further operations
    to be performed" (https://docs.stripe.com/api/customers/delete). Stripe's exact answer is not
    documented; the emulator's is a 400 ``invalid_request_error`` (unverified wording)."""
    customer = call.store.get(CUSTOMER, invoice["customer"])
    if customer is None or customer.get("deleted"):
        raise invalid_request(
            f"This invoice cannot be finalized: its customer '{invoice['customer']}' has been deleted."
        )


def hold_drafts_of_deleted_customer(call: Call, customer: JSON) -> None:
    """Customer deletion hook: the customer's auto-advancing drafts stop advancing (``auto_advance``
    false, ``invoice.updated``), as they can no longer be finalized. What Stripe does with them is not
    documented (unverified)."""
    for invoice in call.store.all(
        INVOICE, lambda inv: inv["customer"] == customer["id"] and inv["status"] == "draft" and inv["auto_advance"]
    ):
        before = copy.deepcopy(invoice)
        invoice.update({"auto_advance": False, "automatically_finalizes_at": None, "next_payment_attempt": None})
        events.record(call, "invoice.updated", call.store.save(INVOICE, invoice), previous=before)


# endpoints ---------------------------------------------------------------------------------------
def _require(call: Call, param: str = "invoice") -> JSON:
    return call.store.require(INVOICE, call.path["invoice"], param=param)


@routes.get("/v1/invoices/{invoice}", params=RETRIEVE, returns=INVOICE)
def retrieve(call: Call) -> JSON:
    return _require(call)


@routes.post("/v1/invoices/{invoice}", params=UPDATE, returns=INVOICE)
def update(call: Call) -> JSON:
    params = call.params
    invoice = _require(call, "id")
    before = copy.deepcopy(invoice)
    if invoice["status"] != "draft":
        allowed = FINALIZED_UPDATABLE[invoice["status"]]
        for name in params:
            if name not in allowed:
                raise invalid_request("Finalized invoices can't be updated in this way", param=name)
    collection_method = params.get("collection_method", invoice["collection_method"])
    for name in ("days_until_due", "due_date"):
        if name in params and collection_method != "send_invoice":
            raise invalid_request(
                f"You can only specify '{name}' if invoice collection method is 'send_invoice'.", param=name
            )
    if "days_until_due" in params and "due_date" in params:
        raise invalid_request("You may only specify one of these parameters: days_until_due, due_date.")
    switching_to_send = collection_method == "send_invoice" and invoice["collection_method"] != "send_invoice"
    if switching_to_send and "days_until_due" not in params and "due_date" not in params:
        raise invalid_request(
            "If invoice collection method is 'send_invoice', you must specify 'due_date' or 'days_until_due'."
        )
    invoice["collection_method"] = collection_method
    if collection_method == "charge_automatically":
        invoice["due_date"] = None
    if "days_until_due" in params:
        invoice["due_date"] = invoice["created"] + params["days_until_due"] * 86_400
    if "due_date" in params:
        invoice["due_date"] = params["due_date"]
    for name in ("description", "footer", "statement_descriptor"):
        if name in params:
            invoice[name] = None if params[name] is UNSET else params[name]
    if "metadata" in params:
        invoice["metadata"] = apply_metadata(invoice["metadata"], params["metadata"])
    if "auto_advance" in params:
        invoice["auto_advance"] = params["auto_advance"]
    if invoice["status"] == "draft":
        custom = _custom_finalization(call.store)
        if not invoice["auto_advance"]:
            custom.discard(invoice["id"])
            _schedule_finalization(invoice, None)
        elif "automatically_finalizes_at" in params:
            custom.add(invoice["id"])
            _schedule_finalization(invoice, params["automatically_finalizes_at"])
        else:
            _schedule_finalization(invoice, invoice["automatically_finalizes_at"] or _grace_end(invoice))
    else:
        collection_changed(call, invoice)
    saved = call.store.save(INVOICE, invoice)
    events.record(call, "invoice.updated", saved, previous=before)
    return saved


@routes.post("/v1/invoices/{invoice}/finalize", params=FINALIZE, returns=INVOICE)
def finalize_invoice(call: Call) -> JSON:
    invoice = _require(call, "id")
    if invoice["status"] != "draft":
        raise invalid_request("This invoice is already finalized, you can't re-finalize a non-draft invoice.")
    return finalize(call, invoice, auto_advance=call.params.get("auto_advance"))


@routes.post("/v1/invoices/{invoice}/send", params=ACTION, returns=INVOICE)
def send_invoice(call: Call) -> JSON:
    invoice = _require(call)
    if invoice["collection_method"] != "send_invoice":
        raise invalid_request("You can only manually send an invoice if its collection method is 'send_invoice'.")
    if invoice["status"] == "void":
        raise invalid_request(
            "This invoice cannot be sent right now. Please contact us via https://support.stripe.com/contact "
            "with details, so we can help."
        )
    if invoice["status"] == "draft":
        invoice = finalize(call, invoice)
    events.record(call, "invoice.sent", invoice)
    return invoice


@routes.post("/v1/invoices/{invoice}/void", params=ACTION, returns=INVOICE)
def void_invoice(call: Call) -> JSON:
    invoice = _require(call, "id")
    if invoice["status"] == "paid":
        raise invalid_request("Invoices with `paid` payments cannot be voided.")
    if invoice["status"] not in ("open", "uncollectible"):
        raise invalid_request(NOT_OPEN)
    invoice["status"] = "void"
    invoice["auto_advance"] = False
    invoice["status_transitions"]["voided_at"] = call.now
    collection_changed(call, invoice)
    saved = call.store.save(INVOICE, invoice)
    events.record(call, "invoice.voided", saved)
    return saved


@routes.post("/v1/invoices/{invoice}/mark_uncollectible", params=ACTION, returns=INVOICE)
def mark_uncollectible(call: Call) -> JSON:
    invoice = _require(call, "id")
    if invoice["status"] == "uncollectible":
        raise invalid_request("This invoice has already been marked uncollectible.")
    if invoice["status"] != "open":
        raise invalid_request(NOT_OPEN)
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = call.now
    collection_changed(call, invoice)
    saved = call.store.save(INVOICE, invoice)
    events.record(call, "invoice.marked_uncollectible", saved)
    return saved


@routes.delete("/v1/invoices/{invoice}", params=DELETE, returns=INVOICE)
def delete(call: Call) -> JSON:
    invoice = _require(call)
    if invoice["status"] != "draft":
        raise invalid_request("You can only delete draft invoices.")
    if subscription_of(invoice):
        raise invalid_request(
            "Invoices created by a subscription cannot be deleted. You can finalize and void them instead."
        )
    call.store.remove(INVOICE, invoice["id"])
    events.record(call, "invoice.deleted", invoice)
    return {"id": invoice["id"], "object": "invoice", "deleted": True}


@routes.get("/v1/invoices/search", params=SEARCH_PARAMS, returns=INVOICE, is_list=True)
def search(call: Call) -> JSON:
    return search_page(call, call.store.all(INVOICE), SEARCH_FIELDS, "invoices")


@routes.get("/v1/invoices", params=LIST, returns=INVOICE, is_list=True)
def list_invoices(call: Call) -> JSON:
    params: dict[str, Any] = call.params

    def matches(invoice: JSON) -> bool:
        if any(invoice[name] != params[name] for name in ("customer", "status", "collection_method") if name in params):
            return False
        if "subscription" in params and subscription_of(invoice) != params["subscription"]:
            return False
        if "due_date" in params and (
            invoice["due_date"] is None or not in_range(invoice["due_date"], params["due_date"])
        ):
            return False
        return in_range(invoice["created"], params.get("created"))

    return paginate(call, INVOICE, call.store.all(INVOICE, matches))
