"""Stripe events end to end in-process: the emulator's own events, signed, through WebhookFunction, the SQS
queue and WebhookProcessorFunction; Finance's SNS messages read from a queue subscribed to the topic."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.adapters.dynamodb_invoices import DynamoDBInvoiceRepository
from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.template.intrinsics import StackResources
from tests.functions.pipeline import Pipeline
from tests.stripe_fixtures import event, invoice_object
from tests.support import EMULATOR_API_KEY, Invoke, invoice_with_lines, load_event

PROCESSOR = "WebhookProcessorFunction"


def test_first_invoice_created_notifies_finance_once(pipeline: Pipeline, subscribed: dict[str, Any]) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    body = pipeline.stripe_event("invoice.created", invoice_id)
    for _ in range(10):  # ten duplicate deliveries
        pipeline.deliver(body)
    pipeline.process()

    (message,) = pipeline.finance_messages()
    assert message["MessageAttributes"]["event_type"]["Value"] == "invoice.review_requested"
    assert len(message["Subject"]) < 100
    assert "Acme Health" in message["Subject"]
    data = json.loads(message["Message"])  # the JSON body for machines (`default`)
    assert data["invoice"]["invoice_id"] == invoice_id
    assert data["dashboard_url"] == f"https://dashboard.stripe.com/test/invoices/{invoice_id}"
    assert data["approve_url"].endswith(f"/invoices/{invoice_id}/approve")
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["status"], record["review_status"], record["first_invoice"]) == ("draft", "pending", True)
    assert pipeline.event_status(json.loads(body)["id"]) == "processed"

    listed = pipeline.invoke("InvoicesFunction", invoices_event("GET", "/invoices", {"review_status": "pending"}))
    assert [i["invoice_id"] for i in json.loads(listed["body"])["invoices"]] == [invoice_id]


def test_finance_reads_the_period_the_first_invoice_seats_cover(
    pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """Stripe's first invoice has period_start == period_end (its creation); its lines bill the subscription
    items' current period, which Finance's email shows (https://docs.stripe.com/api/invoices/object)."""
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()

    (email,) = pipeline.finance_emails()
    subscription = stripe_client.v1.subscriptions.retrieve(subscribed["subscription_id"])
    seats = subscription["items"].data[0]
    start, end = (
        time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (seats.current_period_start, seats.current_period_end)
    )
    assert start != end
    assert email.startswith("--- Invoice to review: Acme Health (")
    assert f"\nPeriod: {start} to {end}\n" in email
    assert "The first invoice of Acme Health (funder f1) is a draft waiting for your review." in email
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["period_start"], record["period_end"]) == (seats.current_period_start, seats.current_period_end)


def test_finalized_before_created_never_goes_back_to_draft(
    pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.finance_messages()  # the create path's own review notice
    stripe_client.v1.invoices.finalize_invoice(invoice_id, {"auto_advance": True})  # Finance, in the Dashboard
    pipeline.deliver(pipeline.stripe_event("invoice.finalized", invoice_id))
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()

    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["status"], record["review_status"]) == ("open", "approved")  # Dashboard finalization = approval
    assert pipeline.finance_messages() == []  # nothing left to review
    funder = json.loads(pipeline.invoke("FundersFunction", load_event("funders/get_funder.json"))["body"])
    assert funder["subscription"]["first_invoice"]["review_status"] == "approved"


def test_unknown_customer_is_kept_and_applied_once_known(
    pipeline: Pipeline,
    stripe_client: stripe.StripeClient,
    stripe_api: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_EVENT_RETRY_BASE_SECONDS", "1")  # the deferred retry comes back after 1 s
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    customer = stripe_client.v1.customers.create({"name": "Late Link"})
    price = stripe_client.v1.prices.list({"lookup_keys": ["incytes_sms_usd"]}).data[0]
    subscription = stripe_client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    body = pipeline.stripe_event("invoice.created", str(subscription.latest_invoice))
    event_id = json.loads(body)["id"]
    pipeline.deliver(body)
    pipeline.process()
    assert pipeline.event_status(event_id) == "received"  # kept, not dropped

    put = load_event("funders/put_funder.json")
    put["body"] = json.dumps({"name": "Late Link", "stripe_customer_id": customer.id})
    assert invoke("FundersFunction", put)["statusCode"] == 200
    time.sleep(1.2)
    pipeline.process()
    assert pipeline.event_status(event_id) == "processed"
    assert pipeline.invoice(str(subscription.latest_invoice)) is not None


def test_crash_between_claim_and_publish_is_redriven_once(
    pipeline: Pipeline, subscribed: dict[str, Any], aws: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.finance_messages()  # the create path's own review notice
    # A worker claimed the notification and died before publishing (long enough ago to be stale).
    boto3.resource("dynamodb").Table(aws["NotificationsTable"]).put_item(
        Item={"notification_key": f"invoice-review#{invoice_id}", "claimed_at": 1}
    )
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()
    assert len(pipeline.finance_messages()) == 1


def test_crash_between_effect_and_mark_has_a_single_effect(pipeline: Pipeline, subscribed: dict[str, Any]) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    body = pipeline.stripe_event("invoice.created", invoice_id)
    pipeline.deliver(body)
    pipeline.process()
    first = pipeline.invoice(invoice_id)
    # The worker died after the effect, before marking: the event is still `received` and comes back.
    table = boto3.resource("dynamodb").Table(pipeline.aws["StripeEventsTable"])
    table.update_item(
        Key={"event_id": json.loads(body)["id"]},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": "received"},
    )
    pipeline.deliver(body)
    pipeline.process()
    assert pipeline.invoice(invoice_id) == first
    assert len(pipeline.finance_messages()) == 1


def test_other_event_types_are_recorded_and_ignored(pipeline: Pipeline, stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create({"name": "Someone"})
    body = pipeline.stripe_event("customer.created")
    pipeline.deliver(body)
    pipeline.process()
    assert pipeline.event_status(json.loads(body)["id"]) == "ignored"


def invoices_event(method: str, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = load_event("funders/get_funder.json")
    event.update(
        {
            "httpMethod": method,
            "path": path,
            "resource": "/invoices/{invoice_id}/approve" if path.endswith("/approve") else "/invoices",
            "pathParameters": {"invoice_id": path.split("/")[2]} if path.endswith("/approve") else None,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        }
    )
    return event


def test_approve_finalizes_sends_and_is_idempotent(
    invoke: Invoke, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    approved = invoke("InvoicesFunction", invoices_event("POST", f"/invoices/{invoice_id}/approve"))
    assert approved["statusCode"] == 200, approved["body"]
    assert json.loads(approved["body"])["status"] == "open"
    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.auto_advance) == ("open", True)
    again = invoke("InvoicesFunction", invoices_event("POST", f"/invoices/{invoice_id}/approve"))
    assert again["statusCode"] == 200

    stripe_client.v1.invoices.void_invoice(invoice_id)
    void = invoke("InvoicesFunction", invoices_event("POST", f"/invoices/{invoice_id}/approve"))
    assert (void["statusCode"], json.loads(void["body"])["error"]["code"]) == (409, "invoice_not_draft")
    unknown = invoke("InvoicesFunction", invoices_event("POST", "/invoices/in_Unknown/approve"))
    assert (unknown["statusCode"], json.loads(unknown["body"])["error"]["code"]) == (404, "invoice_not_found")


def test_pending_drafts_are_reminded_once_a_day(pipeline: Pipeline, subscribed: dict[str, Any]) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()
    assert len(pipeline.finance_messages()) == 1  # the review request itself
    schedule = load_event("schedule/scheduled_event.json")

    assert pipeline.invoke("ReviewReminderFunction", schedule)["reminded"] == []  # too recent (template: 2 days)
    table = boto3.resource("dynamodb").Table(pipeline.aws["InvoicesTable"])
    created = int(str(table.get_item(Key={"invoice_id": invoice_id})["Item"]["stripe_created"]))
    table.update_item(  # three days pass
        Key={"invoice_id": invoice_id},
        UpdateExpression="SET stripe_created = :c",
        ExpressionAttributeValues={":c": created - 3 * 86400},
    )
    assert pipeline.invoke("ReviewReminderFunction", schedule) == {"missed": [], "reminded": [invoice_id]}
    pipeline.invoke("ReviewReminderFunction", schedule)  # the same day again: no second reminder
    (reminder,) = pipeline.finance_messages()
    assert reminder["MessageAttributes"]["event_type"]["Value"] == "invoice.review_reminder"


def test_an_item_replaced_in_the_dashboard_is_recorded_by_product(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """Finance swaps the case price in the Dashboard (new item, old one deleted): the funder's record follows,
    classing the new item by its product, so case usage stays billable."""
    subscription_id = subscribed["subscription_id"]
    meter = next(m for m in stripe_client.v1.billing.meters.list().data if m.event_name == "incytes_case")
    price = stripe_client.v1.prices.create(
        {
            "product": "incytes_case",
            "currency": "usd",
            "unit_amount": 450,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    old_case = next(item for item in subscribed["items"] if item["kind"] == "case")
    new_case = stripe_client.v1.subscription_items.create({"subscription": subscription_id, "price": price.id})
    stripe_client.v1.subscription_items.delete(old_case["item_id"])
    time.sleep(1.1)  # a later event than the subscription's creation (Stripe times have whole seconds)
    stripe_client.v1.subscriptions.update(subscription_id, {"metadata": {"note": "case price changed"}})
    pipeline.deliver(pipeline.stripe_event("customer.subscription.updated", subscription_id))
    pipeline.process()

    funder = json.loads(invoke("FundersFunction", load_event("funders/get_funder.json"))["body"])
    cases = [item for item in funder["subscription"]["items"] if item["kind"] == "case"]
    assert [(item["item_id"], item["price_id"]) for item in cases] == [(new_case.id, price.id)]
    assert {item["kind"] for item in funder["subscription"]["items"]} == {"seat", "case", "sms"}


def deliver_sdk_shaped(pipeline: Pipeline, event_id: str, event_type: str, data: dict[str, Any], created: int) -> None:
    """An event with every field stripe-python's typed classes declare, delivered signed like any other."""
    pipeline.deliver(json.dumps(event(event_id, event_type, data, created=created)))


def test_every_event_of_a_one_off_invoice_is_applied(
    pipeline: Pipeline, invoke: Invoke, aws: StackResources, demo_customer: str
) -> None:
    """A one-off invoice (`parent` null: no subscription) is stored without subscription_id, read back from
    DynamoDB by its next event, and applied: not retried into the dead-letter queue."""
    assert invoke("FundersFunction", load_event("funders/put_funder_linked.json"))["statusCode"] == 200
    now = int(time.time())
    draft = invoice_object("in_OneOff", demo_customer, subscription_id=None, status="draft", billing_reason="manual")
    deliver_sdk_shaped(pipeline, "evt_OneOffCreated", "invoice.created", draft, now)
    pipeline.process()
    opened = invoice_object("in_OneOff", demo_customer, subscription_id=None, status="open", billing_reason="manual")
    deliver_sdk_shaped(pipeline, "evt_OneOffFinalized", "invoice.finalized", opened, now + 1)
    pipeline.process()

    assert pipeline.event_status("evt_OneOffCreated") == "processed"
    assert pipeline.event_status("evt_OneOffFinalized") == "processed"
    record = DynamoDBInvoiceRepository(boto3.resource("dynamodb").Table(aws["InvoicesTable"])).get("in_OneOff")
    assert record is not None
    assert (record.funder_id, record.subscription_id, record.status) == ("f1", None, "open")
    assert pipeline.finance_messages() == []


def test_an_old_event_about_a_customer_no_funder_has_is_ignored_at_once(pipeline: Pipeline) -> None:
    """The Stripe account bills others too: their events are recorded `ignored` (docs/business-rules.md § Failure
    rules), not retried ten times into the dead-letter queue, once no link of ours can be on its way (older than the
    grace, 5 minutes)."""
    invoice = invoice_object("in_Elsewhere", "cus_NotAFunder", subscription_id="sub_Elsewhere")
    deliver_sdk_shaped(pipeline, "evt_Elsewhere", "invoice.paid", invoice, int(time.time()) - 600)
    pipeline.process()

    assert pipeline.event_status("evt_Elsewhere") == "ignored"
    assert pipeline.invoice("in_Elsewhere") is None


def test_a_first_invoice_with_more_lines_than_embedded_is_announced_whole(
    pipeline: Pipeline, invoke: Invoke, stripe_api: str, stripe_client: stripe.StripeClient, demo_customer: str
) -> None:
    """Stripe embeds the first page of an invoice's lines in its events ("the first handful of those items",
    https://docs.stripe.com/api/invoice-line-item/retrieve): Finance's notice lists all eleven."""
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    assert invoke("FundersFunction", load_event("funders/put_funder_linked.json"))["statusCode"] == 200
    invoice_id = invoice_with_lines(stripe_client, demo_customer, 11, metadata={"incytes_funder_id": "f1"})
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()

    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert len(record["lines"]) == 11
    (message,) = pipeline.finance_messages()
    assert len(json.loads(message["Message"])["invoice"]["lines"]) == 11
