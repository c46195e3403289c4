"""Payment methods and invoice payments: Stripe's test cards, automatic collection after finalization,
``pay`` and its card errors, retries on the account's schedule and what unpaid invoices do to subscriptions
(https://docs.stripe.com/testing, https://docs.stripe.com/invoicing/integration/workflow-transitions,
https://docs.stripe.com/billing/revenue-recovery/smart-retries)."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, error_of

HOUR = 3600
DAY = 86_400


def _card_customer(make: Factory, card: str | None) -> stripe.Customer:
    """A customer whose default payment method for invoices is a new one made from a test card token."""
    if card is None:
        return make.customer()
    return make.customer(payment_method=card, invoice_settings={"default_payment_method": card})


def _default_method(customer: stripe.Customer) -> str:
    """The id of the customer's default payment method for invoices."""
    assert customer.invoice_settings is not None
    return str(customer.invoice_settings.default_payment_method)


def _first_invoice(make: Factory, customer: str, **schedule: Any) -> tuple[str, stripe.Invoice]:
    """A one-click ``charge_automatically`` subscription (its first invoice a draft) and that draft."""
    schedule.setdefault("collection_method", "charge_automatically")
    created = make.schedule(customer, make.catalog(), **schedule)
    subscription = make.client.v1.subscriptions.retrieve(str(created.subscription), {"expand": ["latest_invoice"]})
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    return subscription.id, invoice


def _approved(client: stripe.StripeClient, invoice: stripe.Invoice) -> stripe.Invoice:
    """Finance's approval: the draft held, then finalized with ``auto_advance`` so that Stripe collects it."""
    assert invoice.id
    client.v1.invoices.update(invoice.id, {"auto_advance": False})
    return client.v1.invoices.finalize_invoice(invoice.id, {"auto_advance": True})


def _types(emulator: StripeEmulator, object_id: str, since: int) -> list[str]:
    return [
        event["type"]
        for event in emulator.events()
        if event["data"]["object"]["id"] == object_id and event["created"] >= since
    ]


# payment methods -------------------------------------------------------------------------------------
def test_a_test_card_token_makes_a_new_payment_method_each_time(client: stripe.StripeClient, make: Factory) -> None:
    """``pm_card_visa`` names a test card: creating a customer with it, or attaching it, makes a new
    PaymentMethod (``pm_…``) attached to the customer; ``invoice_settings[default_payment_method]`` may
    name the token passed as ``payment_method`` (https://docs.stripe.com/testing: "use a PaymentMethod such
    as pm_card_visa", https://docs.stripe.com/api/customers/create#create_customer-payment_method,
    https://docs.stripe.com/api/payment_methods/attach)."""
    customer = _card_customer(make, "pm_card_visa")
    default = _default_method(customer)
    assert default.startswith("pm_")
    assert default != "pm_card_visa"
    attached = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    assert attached.id not in (default, "pm_card_visa")
    assert (attached.object, attached.type, attached.customer) == ("payment_method", "card", customer.id)
    assert attached.card is not None
    assert (attached.card.brand, attached.card.last4) == ("visa", "4242")
    first = client.v1.payment_methods.retrieve(default)
    assert (first.customer, first.card.last4 if first.card else None) == (customer.id, "4242")


def test_a_declined_card_is_refused_when_attached(client: stripe.StripeClient, make: Factory) -> None:
    """Attaching checks the card: ``pm_card_chargeDeclined…`` cards are declined with a 402 card error
    (``code``, ``decline_code``), while ``pm_card_chargeCustomerFail`` attaches and fails only when charged
    ("Attaching this card to a Customer object succeeds, but attempts to charge the customer fail",
    https://docs.stripe.com/testing#declined-payments, https://docs.stripe.com/declines/codes)."""
    customer = make.customer()
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", {"customer": customer.id})
    assert declined.value.http_status == 402
    assert (error_of(declined.value)["code"], error_of(declined.value)["decline_code"]) == (
        "card_declined",
        "generic_decline",
    )
    with pytest.raises(stripe.CardError) as poor:
        make.customer(payment_method="pm_card_chargeDeclinedInsufficientFunds")
    assert error_of(poor.value)["decline_code"] == "insufficient_funds"
    failing = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    assert failing.customer == customer.id


def test_a_default_payment_method_must_be_attached_to_the_customer(client: stripe.StripeClient, make: Factory) -> None:
    """``invoice_settings[default_payment_method]`` takes a PaymentMethod attached to the customer
    (https://docs.stripe.com/api/customers/update#update_customer-invoice_settings-default_payment_method)."""
    other = _card_customer(make, "pm_card_visa")
    customer = make.customer()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.update(
            customer.id,
            {"invoice_settings": {"default_payment_method": _default_method(other)}},
        )
    assert caught.value.http_status == 400
    own = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    updated = client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": own.id}})
    assert _default_method(updated) == own.id


# subscriptions created with charge_automatically ------------------------------------------------------
def test_a_subscription_pays_its_first_invoice_with_the_default_card(
    client: stripe.StripeClient, make: Factory
) -> None:
    """``charge_automatically`` charges the first invoice within the request: paid with the customer's default
    payment method, the subscription ``active``
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior)."""
    customer = _card_customer(make, "pm_card_visa")
    catalog = make.catalog()
    subscription = make.subscription(
        customer.id,
        [{"price": catalog.seat.id, "quantity": 2}],
        collection_method="charge_automatically",
        expand=["latest_invoice"],
    )
    assert subscription.status == "active"
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.amount_paid, invoice.attempt_count, invoice.attempted) == ("paid", 7000, 1, True)


def test_a_declining_card_leaves_the_subscription_incomplete(client: stripe.StripeClient, make: Factory) -> None:
    """A declined first payment: the default ``allow_incomplete`` creates an ``incomplete`` subscription with
    its invoice ``open``; ``error_if_incomplete`` answers the 402 card error and creates nothing
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior,
    https://docs.stripe.com/billing/subscriptions/overview#subscription-statuses)."""
    customer = _card_customer(make, "pm_card_chargeCustomerFail")
    catalog = make.catalog()
    items = [{"price": catalog.seat.id}]
    with pytest.raises(stripe.CardError) as caught:
        make.subscription(
            customer.id, items, collection_method="charge_automatically", payment_behavior="error_if_incomplete"
        )
    assert error_of(caught.value)["code"] == "card_declined"
    assert client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data == []

    subscription = make.subscription(
        customer.id, items, collection_method="charge_automatically", expand=["latest_invoice"]
    )
    assert subscription.status == "incomplete"
    invoice = subscription.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempt_count, invoice.amount_paid) == ("open", 1, 0)


def test_an_incomplete_subscription_expires_after_23_hours(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: "If the first invoice is not paid within 23 hours, the subscription transitions to
    incomplete_expired ... the open invoice will be voided" (https://docs.stripe.com/api/subscriptions/object#subscription_object-status)."""
    make = Factory(emulator_client, "expire")
    customer = _card_customer(make, "pm_card_chargeCustomerFail")
    catalog = make.catalog()
    subscription = make.subscription(
        customer.id, [{"price": catalog.seat.id}], collection_method="charge_automatically"
    )
    emulator.advance_clock(23 * HOUR - 60)
    assert emulator_client.v1.subscriptions.retrieve(subscription.id).status == "incomplete"
    emulator.advance_clock(60)
    expired = emulator_client.v1.subscriptions.retrieve(subscription.id)
    assert expired.status == "incomplete_expired"
    assert emulator_client.v1.invoices.retrieve(str(subscription.latest_invoice)).status == "void"


# pay --------------------------------------------------------------------------------------------------
def test_pay_charges_now_and_a_decline_answers_a_card_error(client: stripe.StripeClient, make: Factory) -> None:
    """``pay`` charges the invoice at once: a decline is a 402 card error and ``invoice.payment_failed``, the
    invoice stays open (``attempt_count`` 1); paying with another attached ``payment_method`` succeeds
    (https://docs.stripe.com/api/invoices/pay, https://docs.stripe.com/invoicing/integration/workflow-transitions:
    "open | POST /v1/invoices/:id/pay | invoice.payment_failed | open")."""
    customer = _card_customer(make, "pm_card_chargeCustomerFail")
    _, draft = _first_invoice(make, customer.id)
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id, {"auto_advance": False})
    with pytest.raises(stripe.CardError) as caught:
        client.v1.invoices.pay(draft.id)
    assert caught.value.http_status == 402
    assert (error_of(caught.value)["code"], error_of(caught.value)["decline_code"]) == (
        "card_declined",
        "generic_decline",
    )
    failed = client.v1.invoices.retrieve(draft.id)
    assert (failed.status, failed.attempt_count, failed.attempted) == ("open", 1, True)

    visa = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    paid = client.v1.invoices.pay(draft.id, {"payment_method": visa.id})
    assert (paid.status, paid.amount_remaining, paid.attempt_count) == ("paid", 0, 1)


def test_pay_refuses_a_payment_method_of_another_customer(client: stripe.StripeClient, make: Factory) -> None:
    """``payment_method`` "must be the ID of a PaymentMethod belonging to the customer associated with the
    invoice being paid" (https://docs.stripe.com/api/invoices/pay#pay_invoice-payment_method)."""
    stranger = _card_customer(make, "pm_card_visa")
    customer = make.customer()
    _, draft = _first_invoice(make, customer.id)
    assert draft.id
    client.v1.invoices.finalize_invoice(draft.id, {"auto_advance": False})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.pay(draft.id, {"payment_method": _default_method(stranger)})
    assert caught.value.http_status == 400
    assert client.v1.invoices.retrieve(draft.id).status == "open"


# automatic collection (emulator clock) ---------------------------------------------------------------
def test_an_approved_invoice_is_charged_an_hour_after_its_creation(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: "We wait an hour after receiving a successful response to the invoice.created event
    before attempting payment" — a draft finalized sooner is charged then, with ``invoice.paid`` and
    ``invoice.payment_succeeded`` (https://docs.stripe.com/invoicing/integration/workflow-transitions)."""
    make = Factory(emulator_client, "collect")
    customer = _card_customer(make, "pm_card_visa")
    _, draft = _first_invoice(make, customer.id)
    assert draft.id
    invoice = _approved(emulator_client, draft)
    assert (invoice.status, invoice.attempt_count, invoice.next_payment_attempt) == ("open", 0, draft.created + HOUR)
    emulator.advance_clock(HOUR)
    paid = emulator_client.v1.invoices.retrieve(draft.id)
    assert (paid.status, paid.attempt_count, paid.next_payment_attempt) == ("paid", 1, None)
    assert paid.status_transitions.paid_at == draft.created + HOUR
    assert _types(emulator, draft.id, draft.created + HOUR) == ["invoice.paid", "invoice.payment_succeeded"]


def test_a_renewal_is_charged_when_it_is_finalized(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: a renewal's draft is finalized about an hour after the period ends and charged then
    (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle)."""
    make = Factory(emulator_client, "renewpay")
    customer = _card_customer(make, "pm_card_visa")
    schedule = make.schedule(customer.id, make.catalog(), collection_method="charge_automatically")
    emulator_client.v1.subscription_schedules.release(schedule.id)  # the project's way: renews on its own
    subscription_id = str(schedule.subscription)
    emulator_client.v1.invoices.pay(str(emulator_client.v1.subscriptions.retrieve(subscription_id).latest_invoice))
    period_end = emulator_client.v1.subscriptions.retrieve(subscription_id)["items"].data[0].current_period_end
    emulator.set_clock(period_end + HOUR)
    renewal = emulator_client.v1.invoices.retrieve(
        str(emulator_client.v1.subscriptions.retrieve(subscription_id).latest_invoice)
    )
    assert (renewal.billing_reason, renewal.status, renewal.attempt_count) == ("subscription_cycle", "paid", 1)
    assert renewal.status_transitions.paid_at == renewal.status_transitions.finalized_at == period_end + HOUR


def test_a_held_invoice_is_never_charged(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator clock: without ``auto_advance`` a finalized invoice is never attempted by itself
    (https://docs.stripe.com/invoicing/integration/automatic-advancement-collection)."""
    make = Factory(emulator_client, "held")
    customer = _card_customer(make, "pm_card_visa")
    _, draft = _first_invoice(make, customer.id)
    assert draft.id
    emulator_client.v1.invoices.finalize_invoice(draft.id, {"auto_advance": False})
    emulator.advance_clock(40 * DAY)
    invoice = emulator_client.v1.invoices.retrieve(draft.id)
    assert (invoice.status, invoice.attempt_count, invoice.next_payment_attempt) == ("open", 0, None)


def test_failed_payments_are_retried_then_the_subscription_is_canceled(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: a failed attempt records ``invoice.payment_failed`` with ``attempt_count`` and
    ``next_payment_attempt`` and makes the subscription ``past_due``; retries follow the custom schedule
    (3, 5, 7 days after the previous attempt); after the last one ``next_payment_attempt`` is null and the
    subscription is canceled, the default setting ("Once Stripe has exhausted all payment retry attempts,
    the subscription will become canceled or unpaid", https://docs.stripe.com/api/subscriptions/object#subscription_object-status;
    https://docs.stripe.com/billing/revenue-recovery/smart-retries#custom-retry-schedule)."""
    make = Factory(emulator_client, "dunning")
    customer = _card_customer(make, "pm_card_chargeCustomerFail")
    subscription_id, draft = _first_invoice(make, customer.id)
    assert draft.id
    _approved(emulator_client, draft)
    failed_at = draft.created + HOUR
    emulator.advance_clock(HOUR)

    failures = emulator.events("invoice.payment_failed")
    assert [(e["created"], e["data"]["object"]["attempt_count"]) for e in failures] == [(failed_at, 1)]
    assert failures[0]["data"]["object"]["next_payment_attempt"] == failed_at + 3 * DAY
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "past_due"
    assert emulator_client.v1.customers.retrieve(customer.id).delinquent is True
    updated = emulator.events("customer.subscription.updated")[-1]
    assert (updated["data"]["object"]["status"], updated["data"]["previous_attributes"]) == (
        "past_due",
        {"status": "active"},
    )

    emulator.set_clock(failed_at + 32 * DAY)
    attempts = [
        (e["created"], e["data"]["object"]["attempt_count"], e["data"]["object"]["next_payment_attempt"])
        for e in emulator.events("invoice.payment_failed")
    ]
    second, third, fourth = failed_at + 3 * DAY, failed_at + 8 * DAY, failed_at + 15 * DAY
    assert attempts == [
        (failed_at, 1, second),
        (second, 2, third),
        (third, 3, fourth),
        (fourth, 4, None),
    ]
    subscription = emulator_client.v1.subscriptions.retrieve(subscription_id)
    assert (subscription.status, subscription.ended_at) == ("canceled", fourth)
    assert subscription.cancellation_details is not None
    assert subscription.cancellation_details.reason == "payment_failed"
    invoice = emulator_client.v1.invoices.retrieve(draft.id)
    assert (invoice.status, invoice.auto_advance, invoice.next_payment_attempt) == ("open", False, None)


def test_after_the_last_retry_the_account_settings_apply(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock and settings: "the subscription will become canceled or unpaid (depending on your
    subscriptions settings)"; the invoice may be marked uncollectible
    (https://docs.stripe.com/billing/revenue-recovery/smart-retries)."""
    emulator.set_payment_settings(retry_days=[1], subscription_status="unpaid", invoice_status="uncollectible")
    make = Factory(emulator_client, "settings")
    customer = make.customer()  # no payment method at all: every attempt fails
    subscription_id, draft = _first_invoice(make, customer.id)
    assert draft.id
    _approved(emulator_client, draft)
    emulator.advance_clock(HOUR + DAY)
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "unpaid"
    invoice = emulator_client.v1.invoices.retrieve(draft.id)
    assert (invoice.status, invoice.attempt_count) == ("uncollectible", 2)


def test_paying_the_failed_invoice_makes_the_subscription_active_again(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: with no payment method the attempt fails and the subscription goes ``past_due``; once
    the customer has a card and the invoice is paid it is ``active`` again and the customer no longer
    ``delinquent`` (https://docs.stripe.com/billing/subscriptions/overview#failed-payments,
    https://docs.stripe.com/api/customers/object#customer_object-delinquent)."""
    make = Factory(emulator_client, "recover")
    customer = make.customer()
    subscription_id, draft = _first_invoice(make, customer.id)
    assert draft.id
    _approved(emulator_client, draft)
    emulator.advance_clock(HOUR)
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "past_due"

    card = emulator_client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    emulator_client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    paid = emulator_client.v1.invoices.pay(draft.id)
    assert (paid.status, paid.attempt_count) == ("paid", 1)  # a manual attempt after the first counts for nothing
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "active"
    assert emulator_client.v1.customers.retrieve(customer.id).delinquent is False


def test_an_unpaid_send_invoice_invoice_past_its_due_date_makes_the_subscription_past_due(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator clock: with ``send_invoice`` the subscription "becomes past_due when its invoice is not paid by
    the due date" (https://docs.stripe.com/api/subscriptions/object#subscription_object-status); paid, it is
    ``active`` again."""
    make = Factory(emulator_client, "pastdue")
    customer = make.customer()
    subscription_id, draft = _first_invoice(make, customer.id, collection_method="send_invoice")
    assert draft.id
    invoice = _approved(emulator_client, draft)
    assert invoice.due_date == draft.created + 30 * DAY
    emulator.set_clock(invoice.due_date - 60)
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "active"
    emulator.advance_clock(60)
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "past_due"
    emulator_client.v1.invoices.pay(draft.id, {"paid_out_of_band": True})
    assert emulator_client.v1.subscriptions.retrieve(subscription_id).status == "active"


def test_payment_settings_control(emulator: StripeEmulator) -> None:
    """The emulator's stand-in for the Dashboard's retry settings: validated, restored by reset."""
    assert emulator.payment_settings() == {
        "retry_days": [3, 5, 7],
        "subscription_status": "canceled",
        "invoice_status": "past_due",
    }
    with pytest.raises(ValueError, match="subscription_status"):
        emulator.set_payment_settings(subscription_status="paused")
    assert emulator.set_payment_settings(retry_days=[2])["retry_days"] == [2]
    emulator.reset()
    assert emulator.payment_settings()["retry_days"] == [3, 5, 7]
