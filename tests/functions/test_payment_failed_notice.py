"""A declined card reaches Finance: a funder billed with ``charge_automatically`` whose card declines every
charge; Finance approves the first invoice, Stripe's payment attempt fails, and the ``invoice.payment_failed``
webhook becomes Finance's payment-failed notice (emulator events, signed, through WebhookFunction, the SQS
queue and WebhookProcessorFunction)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.conftest import DEMO_CUSTOMER_ID
from tests.functions.pipeline import Pipeline
from tests.functions.test_webhook_processing import invoices_event
from tests.support import Invoke

HOUR = 3600


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {"CollectionMethod": "charge_automatically"}


def test_a_declined_first_invoice_reaches_finance(
    invoke: Invoke,
    pipeline: Pipeline,
    subscribed: dict[str, Any],
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
) -> None:
    # The funder's card attaches but declines every charge (Stripe's test card 4000 0000 0000 0341).
    card = stripe_client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": DEMO_CUSTOMER_ID})
    stripe_client.v1.customers.update(DEMO_CUSTOMER_ID, {"invoice_settings": {"default_payment_method": card.id}})
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()

    approved = invoke("InvoicesFunction", invoices_event("POST", f"/invoices/{invoice_id}/approve"))
    assert approved["statusCode"] == 200, approved["body"]
    stripe_emulator.advance_clock(HOUR)  # Stripe charges an hour after invoice.created

    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    assert stripe_client.v1.subscriptions.retrieve(subscribed["subscription_id"]).status == "past_due"
    failed = pipeline.stripe_event("invoice.payment_failed", invoice_id)
    for _ in range(3):  # duplicate deliveries: one notice
        pipeline.deliver(failed)
    pipeline.process()

    notices = [
        message
        for message in pipeline.finance_messages()
        if message["MessageAttributes"]["event_type"]["Value"] == "invoice.payment_failed"
    ]
    assert len(notices) == 1
    (notice,) = notices
    assert notice["Subject"].startswith("Payment failed: Acme Health")
    data = json.loads(notice["Message"])
    assert (data["type"], data["funder_id"], data["invoice"]["invoice_id"]) == (
        "invoice.payment_failed",
        "f1",
        invoice_id,
    )
    assert pipeline.event_status(json.loads(failed)["id"]) == "processed"
