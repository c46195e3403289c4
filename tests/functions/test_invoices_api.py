"""Finance's reads of invoices through InvoicesFunction, with moto and the Stripe emulator: GET /invoices lists
every review state, GET /invoices/{invoice_id} (events/invoices/get_invoice.json) answers one invoice with its
lines, each with the period it bills, and its review state, or 404 `invoice_not_found` in the contract's shape.

Stripe facts: a line's `period` is its service period, the invoice's `period_start`/`period_end` only when items
could be added to it (https://docs.stripe.com/api/invoices/object).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.adapters.dynamodb_invoices import DynamoDBInvoiceRepository
from incytes_billing.models.invoice import REVIEW_STATUSES, InvoiceRecord, ReviewStatus
from local_stack.template.intrinsics import StackResources
from tests.functions.test_webhook_processing import invoices_event
from tests.support import Invoke, load_event

GET_INVOICE = "invoices/get_invoice.json"


def get_invoice(invoke: Invoke, invoice_id: str | None = None) -> dict[str, Any]:
    """The events/ file as is (an invoice nobody has), or asking for `invoice_id`."""
    event = load_event(GET_INVOICE)
    if invoice_id is not None:
        event["path"] = event["requestContext"]["path"] = f"/invoices/{invoice_id}"
        event["pathParameters"] = {"invoice_id": invoice_id}
    return invoke("InvoicesFunction", event)


@pytest.mark.parametrize("review_status", REVIEW_STATUSES)
def test_every_review_state_is_listed(invoke: Invoke, aws: StackResources, review_status: ReviewStatus) -> None:
    invoices = DynamoDBInvoiceRepository(boto3.resource("dynamodb").Table(aws["InvoicesTable"]))
    for n, status in enumerate(REVIEW_STATUSES):
        record = InvoiceRecord(
            invoice_id=f"in_{status.replace('_', '')}",
            funder_id="f1",
            customer_id="cus_1",
            status="draft",
            amount_due=100 * n,
            currency="usd",
            review_status=status,
            first_invoice=status != "not_required",
            stripe_created=1_795_608_000 + n,
        )
        invoices.save(record, expected_version=None)

    response = invoke("InvoicesFunction", invoices_event("GET", "/invoices", {"review_status": review_status}))

    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["review_status"] == review_status
    assert [invoice["review_status"] for invoice in body["invoices"]] == [review_status]


def test_an_unknown_review_state_is_a_validation_error(invoke: Invoke, aws: StackResources) -> None:
    response = invoke("InvoicesFunction", invoices_event("GET", "/invoices", {"review_status": "paid"}))
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["error"]["code"] == "validation_error"


def test_one_invoice_with_its_lines_their_periods_and_its_review_state(
    invoke: Invoke, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]

    response = get_invoice(invoke, invoice_id)

    assert response["statusCode"] == 200, response["body"]
    invoice = json.loads(response["body"])
    assert (invoice["invoice_id"], invoice["review_status"], invoice["status"]) == (invoice_id, "pending", "draft")
    stripe_lines = stripe_client.v1.invoices.line_items.list(invoice_id).data
    assert [
        (line["description"], line["quantity"], line["amount"], line["period_start"], line["period_end"])
        for line in invoice["lines"]
    ] == [(line.description, line.quantity, line.amount, line.period.start, line.period.end) for line in stripe_lines]
    seats = invoice["lines"][0]
    assert seats["quantity"] == 3
    assert (invoice["period_start"], invoice["period_end"]) == (seats["period_start"], seats["period_end"])

    approved = invoke("InvoicesFunction", invoices_event("POST", f"/invoices/{invoice_id}/approve"))
    assert approved["statusCode"] == 200, approved["body"]
    after = json.loads(get_invoice(invoke, invoice_id)["body"])
    assert after["review_status"] == "approved"
    assert after["approved_by"] == "arn:aws:iam::123456789012:user/incytes-backend"  # invoices_event's caller


def test_an_unknown_invoice_is_404_in_the_contract_shape(invoke: Invoke, aws: StackResources) -> None:
    response = get_invoice(invoke)  # events/invoices/get_invoice.json as `sam local invoke` sends it

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {
        "error": {
            "code": "invoice_not_found",
            "message": "No invoice 'in_1QExampleFirstInvoice' of an inCytes funder exists.",
        }
    }


def test_an_id_that_is_no_invoice_id_is_a_validation_error(invoke: Invoke, aws: StackResources) -> None:
    response = get_invoice(invoke, "cus_1")
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["error"]["code"] == "validation_error"
