"""Payment methods (https://docs.stripe.com/api/payment_methods) and invoice payments: attempts, retries,
``POST /v1/invoices/{id}/pay`` and what unpaid invoices do to subscriptions ("dunning").

**Test payment methods** (https://docs.stripe.com/testing: "use a PaymentMethod such as ``pm_card_visa``").
A test token (:data:`TEST_CARDS`) names a card, not an object: each use as ``payment_method`` on
``POST /v1/customers`` or in ``POST /v1/payment_methods/{token}/attach`` makes a new PaymentMethod
(``pm_`` + 24 characters, shaped as Stripe's: ``type: card``, ``card.brand``, ``card.last4``, ...)
attached to the customer (``payment_method.attached``). Attaching checks the card, as on Stripe: the
``pm_card_chargeDeclined*`` cards are refused with a 402 ``card_error`` (``code``, ``decline_code``,
"Your card was declined."); ``pm_card_chargeCustomerFail`` (4000 0000 0000 0341, "Attaching this card to a
Customer object succeeds, but attempts to charge the customer fail") attaches and declines every charge
(``card_declined`` / ``generic_decline``). Elsewhere (``invoice_settings[default_payment_method]``, a
subscription's ``default_payment_method``, ``pay``'s ``payment_method``) a PaymentMethod must already be
attached to the customer: "The customer does not have a payment method with the ID ...". On customer
create, ``invoice_settings[default_payment_method]`` may repeat the ``payment_method`` token: it names the
PaymentMethod that token just made. ``detach`` (``payment_method.detached``) clears the customer's default.

**Which PaymentMethod pays** (https://docs.stripe.com/billing/revenue-recovery/smart-retries, "Payment
method ordering"): the invoice's ``default_payment_method``, else the subscription's, else the customer's
``invoice_settings.default_payment_method``.

**Automatic collection** of ``open``, ``auto_advance``, ``charge_automatically`` invoices: the first attempt
comes when the invoice is finalized, but never sooner than an hour after ``invoice.created`` was delivered
(``webhooks_delivered_at``; https://docs.stripe.com/invoicing/integration/workflow-transitions: "We wait an
hour after receiving a successful response to the invoice.created event before attempting payment"): at
finalization for a draft the clock finalized, at once for a held draft approved later.
``next_payment_attempt`` shows when; an invoice without ``auto_advance`` is never attempted by itself.

- Success: ``paid``, ``attempted``, ``attempt_count`` + 1; ``invoice.paid``, ``invoice.payment_succeeded``.
- Failure (a declining card, or no payment method at all): ``invoice.payment_failed`` with
  ``attempt_count`` and the next retry in ``next_payment_attempt``; the customer becomes ``delinquent``
  (``customer.updated``) and an ``active`` subscription ``past_due`` (``customer.subscription.updated``:
  "it becomes past_due when payment is required but cannot be paid", the SDK's ``Subscription.status``).
- Retries follow the account's custom retry schedule (https://docs.stripe.com/billing/revenue-recovery/
  smart-retries#custom-retry-schedule; Smart Retries pick their own times, which no test can foresee):
  by default 3, 5 and 7 days after the previous attempt (:class:`PaymentSettings`, control
  ``/_emulator/payment_settings``). Every retry counts in ``attempt_count`` and is made with the payment
  method available then ("Retries will continue to be scheduled, and attempt_count will continue to
  increment", the SDK's ``Invoice.attempt_count``).
- After the last retry fails (``next_payment_attempt`` null), the account's settings apply ("Once Stripe
  has exhausted all payment retry attempts, the subscription will become canceled or unpaid (depending on
  your subscriptions settings)"): by default the subscription is canceled (``cancellation_details.reason:
  payment_failed``, which also stops collecting the customer's open invoices) and the invoice left open
  (past due); ``unpaid`` / ``past_due`` and ``uncollectible`` are the other settings.

**``POST /v1/invoices/{id}/pay``** (https://docs.stripe.com/api/invoices/pay) finalizes a draft, then charges
``payment_method`` (attached to the customer) or the default one now: success as above; a decline answers
402 ``card_error`` (``code``, ``decline_code``) after recording ``invoice.payment_failed`` (the invoice
stays ``open``, or ``uncollectible``). "Any payment attempt counts as the first attempt, and subsequently
only automatic retries increment the attempt count": a manual attempt moves ``attempt_count`` from 0 to 1
only and leaves the retry schedule alone. No payment method at all: 400, as before. ``paid_out_of_band``
marks it paid without a charge (``invoice.paid``).

**Subscriptions and unpaid invoices.** Paying (or paying out of band) the last unpaid invoice makes a
``past_due``/``unpaid``/``incomplete`` subscription ``active`` again and the customer no longer delinquent.
A ``send_invoice`` invoice still open at its ``due_date`` makes its ``active`` subscription ``past_due``
(the SDK's ``Subscription.status``: "it becomes past_due when its invoice is not paid by the due date").
An ``incomplete`` subscription whose first invoice is still unpaid 23 hours after its creation becomes
``incomplete_expired`` and that invoice is voided ("This is a terminal status, the open invoice will be
voided").

Not modeled: PaymentIntents, charges and their events, 3D Secure, partial payments, credit balance, hard
declines that stop retries, Smart Retries' timing, the additional deadline after which an unpaid
``send_invoice`` subscription is canceled, invoices of ``unpaid`` subscriptions (they do not renew).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import StripeError, invalid_request, resource_missing
from ..params import EXPAND, Bool, Obj, Str, Unsupported
from ..routing import Call, RouteTable
from ..store import JSON, Store
from . import events, invoices
from .kinds import CUSTOMER, INVOICE, PAYMENT_METHOD, SUBSCRIPTION

routes = RouteTable()

DAY = 86_400
INCOMPLETE_WINDOW = 23 * 3600  # "If the first invoice is not paid within 23 hours" (Subscription.status)
ENDED_SUBSCRIPTIONS = ("canceled", "incomplete_expired")
UNPAID_SUBSCRIPTIONS = ("past_due", "unpaid", "incomplete")
SUBSCRIPTION_SETTINGS = ("canceled", "unpaid", "past_due")
INVOICE_SETTINGS = ("past_due", "uncollectible")


@dataclass(frozen=True)
class Decline:
    """Why a card was declined, as a card error reports it (https://docs.stripe.com/declines/codes)."""

    code: str
    decline_code: str
    message: str


GENERIC_DECLINE = Decline("card_declined", "generic_decline", "Your card was declined.")
INSUFFICIENT_FUNDS = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
INCORRECT_CVC = Decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.")
PROCESSING_ERROR = Decline(
    "processing_error", "processing_error", "An error occurred while processing your card. Try again in a little bit."
)


@dataclass(frozen=True)
class TestCard:
    """A card behind a test token: refused when attached, or declined when charged, or neither."""

    brand: str
    last4: str
    funding: str = "credit"
    attach_decline: Decline | None = None
    charge_decline: Decline | None = None


# https://docs.stripe.com/testing (cards by brand; declined payments).
TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556", "debit"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", charge_decline=GENERIC_DECLINE),
    "pm_card_chargeDeclined": TestCard("visa", "0002", attach_decline=GENERIC_DECLINE),
    "pm_card_visa_chargeDeclined": TestCard("visa", "0002", attach_decline=GENERIC_DECLINE),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard("visa", "9995", attach_decline=INSUFFICIENT_FUNDS),
    "pm_card_chargeDeclinedLostCard": TestCard(
        "visa", "9987", attach_decline=Decline("card_declined", "lost_card", "Your card was declined.")
    ),
    "pm_card_chargeDeclinedStolenCard": TestCard(
        "visa", "9979", attach_decline=Decline("card_declined", "stolen_card", "Your card was declined.")
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", attach_decline=Decline("expired_card", "expired_card", "Your card has expired.")
    ),
    "pm_card_chargeDeclinedIncorrectCvc": TestCard("visa", "0127", attach_decline=INCORRECT_CVC),
    "pm_card_chargeDeclinedProcessingError": TestCard("visa", "0119", attach_decline=PROCESSING_ERROR),
}
# Charges to an attached card decline by its number (the only such test card: chargeCustomerFail).
CHARGE_DECLINES = {card.last4: card.charge_decline for card in TEST_CARDS.values() if card.charge_decline}

ATTACH = Obj({"customer": Str(required=True), "customer_account": Unsupported(), "expand": EXPAND})
DETACH = Obj({"expand": EXPAND})
RETRIEVE = Obj({"expand": EXPAND})
PAY = Obj(
    {
        "expand": EXPAND,
        "forgive": Unsupported(),
        "mandate": Unsupported(),
        "off_session": Bool(),
        "paid_out_of_band": Bool(),
        "payment_method": Str(),
        "source": Unsupported(),
    }
)

# Called as ``cancel(call, subscription)`` when the account's settings cancel a subscription after the last
# retry failed; subscriptions' is wired here by ``resources.connect_hooks`` (cancellation_details.reason
# ``payment_failed``).
CANCEL_FOR_NONPAYMENT: list[Callable[[Call, JSON], JSON]] = []


# settings ------------------------------------------------------------------------------------------
@dataclass
class PaymentSettings:
    """The account's "Manage failed payments" settings: the custom retry schedule (days after the
    previous attempt), then what becomes of the subscription and of the invoice."""

    retry_days: tuple[int, ...] = (3, 5, 7)
    subscription_status: str = "canceled"
    invoice_status: str = "past_due"

    def as_json(self) -> JSON:
        return {
            "retry_days": list(self.retry_days),
            "subscription_status": self.subscription_status,
            "invoice_status": self.invoice_status,
        }


def settings_of(store: Store) -> PaymentSettings:
    return store.state("payment_settings", PaymentSettings)


def configure(store: Store, changes: dict[str, Any]) -> JSON:
    """Change some of the settings (``retry_days``, ``subscription_status``, ``invoice_status``)."""
    unknown = set(changes) - {"retry_days", "subscription_status", "invoice_status"}
    if unknown:
        raise ValueError(f"unknown payment settings: {sorted(unknown)}")
    days = changes.get("retry_days", [])
    whole = all(isinstance(day, int) and not isinstance(day, bool) and day > 0 for day in days)
    if not isinstance(days, list | tuple) or not whole:
        raise ValueError("retry_days is a list of whole numbers of days > 0")
    if changes.get("subscription_status", "canceled") not in SUBSCRIPTION_SETTINGS:
        raise ValueError(f"subscription_status is one of {', '.join(SUBSCRIPTION_SETTINGS)}")
    if changes.get("invoice_status", "past_due") not in INVOICE_SETTINGS:
        raise ValueError(f"invoice_status is one of {', '.join(INVOICE_SETTINGS)}")
    with store.lock:
        settings = settings_of(store)
        if "retry_days" in changes:
            settings.retry_days = tuple(changes["retry_days"])
        settings.subscription_status = changes.get("subscription_status", settings.subscription_status)
        settings.invoice_status = changes.get("invoice_status", settings.invoice_status)
        return settings.as_json()


# payment methods -----------------------------------------------------------------------------------
def card_error(decline: Decline) -> StripeError:
    return StripeError(402, decline.message, type="card_error", code=decline.code, decline_code=decline.decline_code)


def _new_payment_method(call: Call, card: TestCard) -> JSON:
    expires = datetime.fromtimestamp(call.now, UTC)
    return {
        "id": call.store.new_id(PAYMENT_METHOD),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state")),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": None},
            "country": "US",
            "display_brand": card.brand,
            "exp_month": expires.month,
            "exp_year": expires.year + 1,
            "fingerprint": hashlib.sha256(f"{card.brand}{card.last4}".encode()).hexdigest()[:16],
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": call.now,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def prepare_attach(call: Call, payment_method_id: str, customer_id: str | None, *, param: str) -> JSON:
    """The PaymentMethod that attaching ``payment_method_id`` to the customer would attach (not stored yet
    for a test token: a new one), or Stripe's refusal (a declined card, an unknown id, one attached
    elsewhere or detached)."""
    card = TEST_CARDS.get(payment_method_id)
    if card is not None:
        if card.attach_decline is not None:
            raise card_error(card.attach_decline)
        return _new_payment_method(call, card)
    payment_method = call.store.get(PAYMENT_METHOD, payment_method_id)
    if payment_method is None:
        raise resource_missing(PAYMENT_METHOD.label, payment_method_id, param=param, status=400)
    if payment_method["customer"] is None:
        raise invalid_request(
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a "
            "Customer, and may not be used again.",
            param=param,
        )
    if payment_method["customer"] != customer_id:
        raise invalid_request("The payment method you provided has already been attached to a customer.", param=param)
    return payment_method


def attach(call: Call, payment_method: JSON, customer_id: str) -> JSON:
    """Store ``payment_method`` (from :func:`prepare_attach`) attached to the customer; records
    ``payment_method.attached`` unless it already was."""
    if call.store.exists(PAYMENT_METHOD, payment_method["id"]):
        return payment_method
    payment_method["customer"] = customer_id
    stored = call.store.insert(PAYMENT_METHOD, payment_method)
    events.record(call, "payment_method.attached", stored)
    return stored


def require_attached(call: Call, payment_method_id: str, customer_id: str, *, param: str) -> JSON:
    """A PaymentMethod attached to the customer, named by a parameter."""
    payment_method = call.store.get(PAYMENT_METHOD, payment_method_id)
    if payment_method is None or payment_method["customer"] != customer_id:
        raise StripeError(
            400,
            f"The customer does not have a payment method with the ID {payment_method_id}. The payment method must "
            "be attached to the customer.",
            code="resource_missing",
            param=param,
        )
    return payment_method


def _default_of(store: Store, customer_id: str, *candidates: str | None) -> JSON | None:
    for payment_method_id in candidates:
        payment_method = store.get(PAYMENT_METHOD, payment_method_id) if payment_method_id else None
        if payment_method is not None and payment_method["customer"] == customer_id:
            return payment_method
    return None


def _customer_default(store: Store, customer_id: str) -> str | None:
    customer = store.get(CUSTOMER, customer_id) or {}
    return (customer.get("invoice_settings") or {}).get("default_payment_method")


def payment_method_for(store: Store, invoice: JSON) -> JSON | None:
    """The PaymentMethod an invoice is charged to: its own default, its subscription's, its customer's."""
    subscription_id = invoices.subscription_of(invoice)
    subscription = store.get(SUBSCRIPTION, subscription_id) if subscription_id else None
    return _default_of(
        store,
        invoice["customer"],
        invoice.get("default_payment_method"),
        (subscription or {}).get("default_payment_method"),
        _customer_default(store, invoice["customer"]),
    )


def payment_method_for_subscription(store: Store, customer_id: str, default_payment_method: str | None) -> JSON | None:
    """What a new subscription's first invoice would be charged to."""
    return _default_of(store, customer_id, default_payment_method, _customer_default(store, customer_id))


def charge_decline(payment_method: JSON) -> Decline | None:
    """How a charge to this PaymentMethod ends: ``None`` for success."""
    return CHARGE_DECLINES.get(str((payment_method.get("card") or {}).get("last4")))


@routes.post("/v1/payment_methods/{payment_method}/attach", params=ATTACH, returns=PAYMENT_METHOD)
def attach_endpoint(call: Call) -> JSON:
    customer = call.store.get(CUSTOMER, call.params["customer"])
    if customer is None or customer.get("deleted"):
        raise resource_missing(CUSTOMER.label, call.params["customer"], param="customer", status=400)
    payment_method = prepare_attach(call, call.path["payment_method"], customer["id"], param="payment_method")
    return attach(call, payment_method, customer["id"])


@routes.post("/v1/payment_methods/{payment_method}/detach", params=DETACH, returns=PAYMENT_METHOD)
def detach(call: Call) -> JSON:
    payment_method = call.store.require(PAYMENT_METHOD, call.path["payment_method"])
    customer_id = payment_method["customer"]
    if customer_id is None:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so detachment is impossible."
        )
    payment_method["customer"] = None
    saved = call.store.save(PAYMENT_METHOD, payment_method)
    customer = call.store.get(CUSTOMER, customer_id)
    if customer is not None and _customer_default(call.store, customer_id) == saved["id"]:
        before = copy.deepcopy(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        events.record(call, "customer.updated", call.store.save(CUSTOMER, customer), previous=before)
    events.record(call, "payment_method.detached", saved)
    return saved


@routes.get("/v1/payment_methods/{payment_method}", params=RETRIEVE, returns=PAYMENT_METHOD)
def retrieve(call: Call) -> JSON:
    return call.store.require(PAYMENT_METHOD, call.path["payment_method"])


# attempts ------------------------------------------------------------------------------------------
def _collects_automatically(invoice: JSON) -> bool:
    return bool(
        invoice["status"] == "open"
        and invoice["auto_advance"]
        and invoice["collection_method"] == "charge_automatically"
    )


def _first_attempt_at(invoice: JSON, now: int) -> int:
    delivered = invoice.get("webhooks_delivered_at") or invoice["created"]
    return max(now, int(delivered) + invoices.AUTO_ADVANCE_DELAY)


def _next_retry(store: Store, invoice: JSON, now: int) -> int | None:
    """When the next retry comes after ``attempt_count`` attempts; ``None`` once the schedule is spent."""
    retry_days = settings_of(store).retry_days
    made = int(invoice["attempt_count"]) - 1
    if not _collects_automatically(invoice) or made >= len(retry_days):
        return None
    return now + retry_days[made] * DAY


def schedule_collection(call: Call, invoice: JSON) -> None:
    """Hook on invoice changes (finalized, ``auto_advance`` toggled, paid, voided): keep
    ``next_payment_attempt`` in step."""
    if invoice["status"] == "draft":
        return
    if not _collects_automatically(invoice):
        invoice["next_payment_attempt"] = None
    elif invoice["next_payment_attempt"] is None:
        first = invoice["attempt_count"] == 0
        invoice["next_payment_attempt"] = (
            _first_attempt_at(invoice, call.now) if first else _next_retry(call.store, invoice, call.now)
        )


def attempt(call: Call, invoice: JSON, payment_method: JSON | None, *, automatic: bool) -> tuple[JSON, Decline | None]:
    """Charge an open (or uncollectible) invoice to ``payment_method`` (``None``: there is none, which fails)
    at ``call.now``; returns the invoice and the decline (``None`` on success)."""
    # Without a payment method nothing is charged; the attempt fails all the same (no card error to answer).
    decline = GENERIC_DECLINE if payment_method is None else charge_decline(payment_method)
    counts = automatic or invoice["attempt_count"] == 0
    if counts:
        invoice["attempt_count"] += 1
    invoice["attempted"] = True
    if decline is None:
        paid = invoices.mark_paid(call, invoice, event_types=("invoice.paid", "invoice.payment_succeeded"))
        _settle(call, paid)
        return paid, None
    if counts:
        invoice["next_payment_attempt"] = _next_retry(call.store, invoice, call.now)
    saved = call.store.save(INVOICE, invoice)
    events.record(call, "invoice.payment_failed", saved)
    _mark_delinquent(call, saved)
    if automatic and saved["next_payment_attempt"] is None:
        saved = _after_last_retry(call, saved)
    return saved, decline


def _subscription_of(store: Store, invoice: JSON) -> JSON | None:
    subscription_id = invoices.subscription_of(invoice)
    return store.get(SUBSCRIPTION, subscription_id) if subscription_id else None


def _set_status(call: Call, subscription: JSON, status: str) -> JSON:
    before = copy.deepcopy(subscription)
    subscription["status"] = status
    if status in ENDED_SUBSCRIPTIONS:
        subscription["ended_at"] = call.now
    saved = call.store.save(SUBSCRIPTION, subscription)
    events.record(call, "customer.subscription.updated", saved, previous=before)
    return saved


def _set_delinquent(call: Call, customer_id: str, delinquent: bool) -> None:
    customer = call.store.get(CUSTOMER, customer_id)
    if customer is None or customer.get("deleted") or customer["delinquent"] == delinquent:
        return
    before = copy.deepcopy(customer)
    customer["delinquent"] = delinquent
    events.record(call, "customer.updated", call.store.save(CUSTOMER, customer), previous=before)


def _mark_delinquent(call: Call, invoice: JSON) -> None:
    """An invoice failed or fell past due: "An automatic payment failure or passing the invoice.due_date will
    set this field to true" (the SDK's ``Customer.delinquent``); its active subscription goes ``past_due``."""
    _set_delinquent(call, invoice["customer"], True)
    subscription = _subscription_of(call.store, invoice)
    if subscription is not None and subscription["status"] == "active":
        _set_status(call, subscription, "past_due")


def _owes(invoice: JSON, now: int) -> bool:
    """An open invoice whose payment failed or whose due date has passed."""
    if invoice["status"] != "open":
        return False
    if invoice["collection_method"] == "charge_automatically":
        return int(invoice["attempt_count"]) > 0
    return invoice["due_date"] is not None and invoice["due_date"] <= now


def _settle(call: Call, invoice: JSON) -> None:
    """A paid invoice: "Paying an invoice ... will set this field to false" (``Customer.delinquent``); its
    subscription is ``active`` again once none of its invoices is still owed."""
    _set_delinquent(call, invoice["customer"], False)
    subscription = _subscription_of(call.store, invoice)
    if subscription is None or subscription["status"] not in UNPAID_SUBSCRIPTIONS:
        return
    owed = call.store.all(
        INVOICE, lambda other: invoices.subscription_of(other) == subscription["id"] and _owes(other, call.now)
    )
    if not owed:
        _set_status(call, subscription, "active")


def _after_last_retry(call: Call, invoice: JSON) -> JSON:
    """The account's settings once every retry failed: mark the invoice uncollectible or leave it past due;
    cancel the subscription, mark it unpaid or leave it past due."""
    settings = settings_of(call.store)
    if settings.invoice_status == "uncollectible":
        invoice = invoices.mark_uncollectible(_action_call(call, invoice))
    subscription = _subscription_of(call.store, invoice)
    if subscription is None or subscription["status"] in ENDED_SUBSCRIPTIONS:
        return invoice
    if settings.subscription_status == "canceled":
        for cancel in CANCEL_FOR_NONPAYMENT:
            cancel(call, subscription)
    elif settings.subscription_status == "unpaid":
        _set_status(call, subscription, "unpaid")
    return call.store.require(INVOICE, invoice["id"])


def _action_call(call: Call, invoice: JSON) -> Call:
    """A call of an invoice action endpoint (``void``, ``mark_uncollectible``) made by Stripe itself."""
    return Call(call.store, {}, {"invoice": invoice["id"]}, call.now, f"/v1/invoices/{invoice['id']}")


# the pay endpoint -----------------------------------------------------------------------------------
@routes.post("/v1/invoices/{invoice}/pay", params=PAY, returns=INVOICE)
def pay(call: Call) -> JSON:
    invoice = call.store.require(INVOICE, call.path["invoice"], param="id")
    if invoice["status"] == "paid":
        raise invalid_request("Invoice is already paid")
    if invoice["status"] not in ("draft", "open", "uncollectible"):
        raise invalid_request(invoices.NOT_OPEN)
    out_of_band = bool(call.params.get("paid_out_of_band"))
    payment_method = None
    if "payment_method" in call.params:
        payment_method = require_attached(
            call, call.params["payment_method"], invoice["customer"], param="payment_method"
        )
    elif not out_of_band:
        payment_method = payment_method_for(call.store, invoice)
    if not out_of_band and payment_method is None and invoice["amount_due"] > 0:
        raise StripeError(400, invoices.NO_PAYMENT_METHOD, code="resource_missing")
    if invoice["status"] == "draft":
        invoice = invoices.finalize(call, invoice)
    if invoice["status"] == "paid":
        return invoice
    if out_of_band:
        paid = invoices.mark_paid(call, invoice, event_types=("invoice.paid",))
        _settle(call, paid)
        return paid
    charged, decline = attempt(call, invoice, payment_method, automatic=False)
    if decline is not None:
        raise card_error(decline)
    return charged


# clock rules -----------------------------------------------------------------------------------------
def _attempt_moment(invoice: JSON) -> int | None:
    return invoice["next_payment_attempt"] if _collects_automatically(invoice) else None


def collect_next_due(store: Store) -> float | None:
    times = [at for invoice in store.scan(INVOICE) if (at := _attempt_moment(invoice)) is not None]
    return min(times) if times else None


def collect_due(store: Store, now: float) -> None:
    """Clock rule: attempt every invoice whose ``next_payment_attempt`` has come, at that time."""
    due = [invoice for invoice in store.all(INVOICE) if (at := _attempt_moment(invoice)) is not None and at <= now]
    for invoice in sorted(due, key=lambda inv: (inv["next_payment_attempt"], inv["created"])):
        moment = int(invoice["next_payment_attempt"])
        call = Call(store, {}, {}, moment, f"/v1/invoices/{invoice['id']}/pay")
        attempt(call, invoice, payment_method_for(store, invoice), automatic=True)


def _statuses(store: Store) -> dict[str, str]:
    return {subscription["id"]: subscription["status"] for subscription in store.scan(SUBSCRIPTION)}


def _past_due_moment(invoice: JSON, statuses: dict[str, str]) -> int | None:
    """When an open ``send_invoice`` invoice makes its active subscription ``past_due``: its due date."""
    if invoice["status"] != "open" or invoice["collection_method"] != "send_invoice" or invoice["due_date"] is None:
        return None
    if statuses.get(invoices.subscription_of(invoice) or "") != "active":
        return None
    return int(invoice["due_date"])


def past_due_next_due(store: Store) -> float | None:
    statuses = _statuses(store)
    times = [at for invoice in store.scan(INVOICE) if (at := _past_due_moment(invoice, statuses)) is not None]
    return min(times) if times else None


def past_due_due(store: Store, now: float) -> None:
    """Clock rule: ``send_invoice`` invoices unpaid at their due date make their subscription ``past_due``."""
    statuses = _statuses(store)
    due = [inv for inv in store.all(INVOICE) if (at := _past_due_moment(inv, statuses)) is not None and at <= now]
    for invoice in sorted(due, key=lambda inv: (inv["due_date"], inv["created"])):
        _mark_delinquent(Call(store, {}, {}, int(invoice["due_date"]), f"/v1/invoices/{invoice['id']}"), invoice)


def _expiry_moment(subscription: JSON) -> int | None:
    return int(subscription["created"]) + INCOMPLETE_WINDOW if subscription["status"] == "incomplete" else None


def expire_next_due(store: Store) -> float | None:
    times = [at for subscription in store.scan(SUBSCRIPTION) if (at := _expiry_moment(subscription)) is not None]
    return min(times) if times else None


def expire_due(store: Store, now: float) -> None:
    """Clock rule: an ``incomplete`` subscription whose first invoice is unpaid 23 hours after its creation
    becomes ``incomplete_expired``; that invoice is voided."""
    due = [sub for sub in store.all(SUBSCRIPTION) if (at := _expiry_moment(sub)) is not None and at <= now]
    for subscription in sorted(due, key=lambda sub: sub["created"]):
        moment = int(subscription["created"]) + INCOMPLETE_WINDOW
        call = Call(store, {}, {}, moment, f"/v1/subscriptions/{subscription['id']}")
        invoice = store.get(INVOICE, subscription["latest_invoice"] or "")
        if invoice is not None and invoice["status"] == "open":
            invoices.void_invoice(_action_call(call, invoice))
        _set_status(call, subscription, "incomplete_expired")
