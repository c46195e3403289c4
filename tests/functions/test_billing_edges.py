"""Money at the edges of the billing lifecycle (issue 9 §1-§4), through the handlers, moto and the emulator.

Stripe facts these rest on:
- A 500 is saved under its idempotency key and replayed for 24 h: https://docs.stripe.com/api/idempotent_requests
  ("subsequent requests with the same key return the same result, including 500 errors").
- A draft with auto_advance finalizes itself about an hour after invoice.created:
  https://docs.stripe.com/invoicing/integration/automatic-advancement-collection
- Turning auto_advance off on a finalized invoice stops Stripe collecting it (same page).
- Events caused by an API request (the Dashboard included) carry `request.id`; automatic ones carry null:
  https://docs.stripe.com/api/events/object#event_object-request
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import stripe

from incytes_billing.models.catalog import load_catalog
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.functions.test_webhook_processing import invoices_event
from tests.support import Invoke, load_event

SUBSCRIPTIONS = "SubscriptionsFunction"
CATALOG = load_catalog()


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def error_code(response: dict[str, Any]) -> tuple[int, str]:
    return response["statusCode"], body_of(response)["error"]["code"]


def approve(invoke: Invoke, invoice_id: str) -> dict[str, Any]:
    return invoke("InvoicesFunction", invoices_event("POST", f"/invoices/{invoice_id}/approve"))


def listed(invoke: Invoke, review_status: str) -> list[dict[str, Any]]:
    response = invoke("InvoicesFunction", invoices_event("GET", "/invoices", {"review_status": review_status}))
    assert response["statusCode"] == 200, response["body"]
    invoices: list[dict[str, Any]] = body_of(response)["invoices"]
    return invoices


def hold_writes(emulator: StripeEmulator, invoice_id: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in emulator.requests_log()
        if entry["method"] == "POST" and entry["path"] == f"/v1/invoices/{invoice_id}"
    ]


def messages_of(pipeline: Pipeline, event_type: str) -> list[dict[str, Any]]:
    return [m for m in pipeline.finance_messages() if m["MessageAttributes"]["event_type"]["Value"] == event_type]


def seats_only_subscription(client: stripe.StripeClient) -> stripe.Subscription:
    """One Finance made by hand in the Dashboard for the demo customer, without the SMS item."""
    seat_price = client.v1.prices.list({"lookup_keys": [CATALOG.lookup_key("seat", "usd")]}).data[0]
    return client.v1.subscriptions.create(
        {
            "customer": "cus_LocalDemoAcme",
            "items": [{"price": seat_price.id, "quantity": 2}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )


# --- §1: a transient 5xx never blocks an operation, nor lets a first invoice go out unreviewed -----------------


def test_a_saved_500_on_the_hold_does_not_block_the_click(
    invoke: Invoke,
    pipeline: Pipeline,
    subscribed_ready: None,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
) -> None:
    """Before: 503 on the click and on every retry (the hold's key replayed the saved 500), and an hour later
    the draft finalized itself, unreviewed."""
    stripe_emulator.inject_fault("/v1/invoices/in_", method="POST", status=500, count=1)

    created = invoke(SUBSCRIPTIONS, load_event("subscriptions/post_subscription.json"))

    assert created["statusCode"] == 201, created["body"]
    invoice_id = body_of(created)["first_invoice"]["id"]
    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.auto_advance) == ("draft", False)
    failed, held = hold_writes(stripe_emulator, invoice_id)
    assert (failed["status"], held["status"]) == (500, 200)
    assert failed["idempotency_key"] != held["idempotency_key"]  # a new attempt, a new key
    stripe_emulator.advance_clock(2 * 3600)
    assert stripe_client.v1.invoices.retrieve(invoice_id).status == "draft"


def test_a_hold_that_keeps_failing_answers_503_and_the_retry_completes_it(
    invoke: Invoke, subscribed_ready: None, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    stripe_emulator.inject_fault("/v1/invoices/in_", method="POST", status=500, count=10)
    failed = invoke(SUBSCRIPTIONS, load_event("subscriptions/post_subscription.json"))
    assert error_code(failed) == (503, "stripe_unavailable")
    assert failed["multiValueHeaders"]["Retry-After"]
    stripe_emulator.clear_faults()

    retried = invoke(SUBSCRIPTIONS, load_event("subscriptions/post_subscription.json"))

    assert retried["statusCode"] == 201, retried["body"]
    invoice = stripe_client.v1.invoices.retrieve(body_of(retried)["first_invoice"]["id"])
    assert (invoice.status, invoice.auto_advance) == ("draft", False)
    assert len(stripe_client.v1.subscriptions.list({"customer": "cus_LocalDemoAcme"}).data) == 1  # adopted


def test_approve_seats_and_cancel_survive_a_saved_500(
    invoke: Invoke, subscribed: dict[str, Any], stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    stripe_emulator.inject_fault(f"/v1/invoices/{invoice_id}/finalize", method="POST", status=500, count=1)
    assert approve(invoke, invoice_id)["statusCode"] == 200
    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.auto_advance) == ("open", True)

    seat = next(item for item in subscribed["items"] if item["kind"] == "seat")
    for seats in (5, 3, 5):  # back and forth: each change reaches Stripe (no replay of an earlier one)
        stripe_emulator.inject_fault("/v1/subscription_items/", method="POST", status=500, count=1)
        patch = load_event("subscriptions/patch_subscription.json")
        patch["body"] = json.dumps({"seats": seats})
        changed = invoke(SUBSCRIPTIONS, patch)
        assert changed["statusCode"] == 200, changed["body"]
        assert stripe_client.v1.subscription_items.retrieve(seat["item_id"]).quantity == seats

    stripe_emulator.inject_fault("/v1/subscriptions/", method="POST", status=500, count=1)
    ending = invoke(SUBSCRIPTIONS, load_event("subscriptions/delete_subscription.json"))
    assert ending["statusCode"] == 200, ending["body"]
    assert stripe_client.v1.subscriptions.retrieve(subscribed["subscription_id"]).cancel_at_period_end is True


# --- §2: holds and approvals act on Stripe's current state ----------------------------------------------------


def test_the_webhook_never_holds_an_open_invoice(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """Before: a late invoice.created set auto_advance=false on an approved (open) invoice: never collected."""
    invoice_id = subscribed["first_invoice"]["id"]
    assert approve(invoke, invoice_id)["statusCode"] == 200
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))  # arrives late
    pipeline.process()
    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.auto_advance) == ("open", True)


def test_a_draft_stripe_finalized_unreviewed_is_missed_and_finance_is_told(
    invoke: Invoke,
    pipeline: Pipeline,
    subscribed: dict[str, Any],
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()
    stripe_client.v1.invoices.update(invoice_id, {"auto_advance": True})  # the hold undone behind our back
    stripe_emulator.advance_clock(2 * 3600)  # Stripe finalizes it: no request, no review
    pipeline.deliver(pipeline.stripe_event("invoice.finalized", invoice_id))
    pipeline.process()

    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["status"], record["review_status"]) == ("open", "missed")  # before: "approved"
    assert [i["invoice_id"] for i in listed(invoke, "missed")] == [invoice_id]
    assert listed(invoke, "pending") == []
    (notice,) = messages_of(pipeline, "invoice.review_missed")
    assert json.loads(notice["Message"])["invoice"]["review_status"] == "missed"
    # Finance acknowledges it: approved.
    assert approve(invoke, invoice_id)["statusCode"] == 200
    assert [i["invoice_id"] for i in listed(invoke, "approved")] == [invoice_id]


def test_the_periodic_check_holds_a_draft_again_before_stripe_finalizes_it(
    pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()
    stripe_client.v1.invoices.update(invoice_id, {"auto_advance": True})

    assert pipeline.invoke("ReviewReminderFunction", {"task": "check_holds"}) == {"missed": []}

    stripe_emulator.advance_clock(2 * 3600)
    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.auto_advance) == ("draft", False)


def test_approving_an_invoice_finalized_while_held_lets_stripe_collect_it(
    invoke: Invoke, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    stripe_client.v1.invoices.finalize_invoice(invoice_id, {"auto_advance": False})
    assert approve(invoke, invoice_id)["statusCode"] == 200
    invoice = stripe_client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.auto_advance) == ("open", True)  # before: left held, never collected


def test_a_dashboard_finalization_of_a_held_draft_is_approved_and_collected(
    pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """Finance pressed Finalize on the held draft, which stays auto_advance=false: the processor turns it on."""
    invoice_id = subscribed["first_invoice"]["id"]
    stripe_client.v1.invoices.finalize_invoice(invoice_id, {"auto_advance": False})  # a request: Finance's
    pipeline.deliver(pipeline.stripe_event("invoice.finalized", invoice_id))
    pipeline.process()
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert record["review_status"] == "approved"
    assert stripe_client.v1.invoices.retrieve(invoice_id).auto_advance is True


def test_approve_refuses_drafts_it_must_not_finalize(
    invoke: Invoke, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    stripe_client.v1.subscriptions.cancel(subscribed["subscription_id"], {"invoice_now": False, "prorate": False})
    assert error_code(approve(invoke, invoice_id)) == (409, "invoice_subscription_canceled")

    stripe_client.v1.customers.delete("cus_LocalDemoAcme")
    assert error_code(approve(invoke, invoice_id)) == (409, "invoice_customer_deleted")  # before: 503 forever
    assert stripe_client.v1.invoices.retrieve(invoice_id).status == "draft"


# --- §3: cancellation while the first invoice waits -----------------------------------------------------------


def test_canceling_now_before_review_voids_the_draft_credits_nothing_and_tells_finance_once(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """Before: Stripe's final invoice credited "Unused time on 3 × seat" (-$105 balance for seats never
    billed), the $105 draft stayed pending, and approve then finalized it."""
    invoice_id = subscribed["first_invoice"]["id"]
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()
    pipeline.finance_messages()  # the review request

    canceled = invoke(SUBSCRIPTIONS, load_event("subscriptions/delete_subscription_now.json"))

    assert canceled["statusCode"] == 200, canceled["body"]
    assert stripe_client.v1.invoices.retrieve(invoice_id).status == "void"
    assert stripe_client.v1.customers.retrieve("cus_LocalDemoAcme").balance == 0  # no credit for unbilled seats
    finals = [
        invoice
        for invoice in stripe_client.v1.invoices.list({"subscription": subscribed["subscription_id"]}).data
        if invoice.id != invoice_id
    ]
    assert all(line.amount >= 0 for invoice in finals for line in invoice.lines.data)
    for event_type, object_id in (
        ("invoice.voided", invoice_id),
        ("customer.subscription.deleted", subscribed["subscription_id"]),
        ("customer.subscription.deleted", subscribed["subscription_id"]),  # a repeat delivery
    ):
        pipeline.deliver(pipeline.stripe_event(event_type, object_id))
    pipeline.process()
    assert listed(invoke, "pending") == []
    assert [i["invoice_id"] for i in listed(invoke, "canceled")] == [invoice_id]
    assert error_code(approve(invoke, invoice_id)) == (409, "invoice_not_draft")
    (notice,) = messages_of(pipeline, "subscription.canceled")
    assert json.loads(notice["Message"])["unreviewed_first_invoice_voided"] == invoice_id


# --- §4: one funder, one live billing relationship --------------------------------------------------------------


def test_a_resubscriptions_first_invoice_is_held_listed_and_announced(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """Before: the processor compared with the recorded (old) subscription: no hold, no notice."""
    pipeline.finance_messages()  # the first subscription's review notice
    assert invoke(SUBSCRIPTIONS, load_event("subscriptions/delete_subscription_now.json"))["statusCode"] == 200
    pipeline.deliver(pipeline.stripe_event("invoice.voided", subscribed["first_invoice"]["id"]))
    pipeline.process()
    funders = boto3.resource("dynamodb").Table(pipeline.aws["FundersTable"])
    old_record = funders.get_item(Key={"funder_id": "f1"})["Item"]["subscription"]
    again = invoke(SUBSCRIPTIONS, load_event("subscriptions/post_subscription_empty.json"))
    assert again["statusCode"] == 201, again["body"]
    new_invoice = body_of(again)["first_invoice"]["id"]
    assert new_invoice != subscribed["first_invoice"]["id"]

    # The webhook before the API's write: it finds the old (canceled) subscription recorded on the funder.
    funders = boto3.resource("dynamodb").Table(pipeline.aws["FundersTable"])
    stored = funders.get_item(Key={"funder_id": "f1"})["Item"]
    funders.put_item(Item={**stored, "subscription": old_record})
    pipeline.deliver(pipeline.stripe_event("invoice.created", new_invoice))
    pipeline.process()

    assert [i["invoice_id"] for i in listed(invoke, "pending")] == [new_invoice]
    (notice,) = messages_of(pipeline, "invoice.review_requested")  # the create path's and the webhook's: once
    assert json.loads(notice["Message"])["invoice"]["invoice_id"] == new_invoice
    assert stripe_client.v1.invoices.retrieve(new_invoice).auto_advance is False


def test_no_second_subscription_for_a_customer_that_already_has_one(
    invoke: Invoke, subscribed_ready: None, stripe_client: stripe.StripeClient
) -> None:
    manual = seats_only_subscription(stripe_client)
    refused = invoke(SUBSCRIPTIONS, load_event("subscriptions/post_subscription.json"))
    assert error_code(refused) == (409, "customer_has_subscription")
    assert manual.id in body_of(refused)["error"]["message"]
    assert "PUT /funders/f1/subscription" in body_of(refused)["error"]["message"]


def test_an_unlinked_subscriptions_draft_is_flagged_and_cannot_be_approved(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """A subscription made in the Dashboard without SMS (its link would be refused: sms_item_required)."""
    manual = seats_only_subscription(stripe_client)
    link = load_event("subscriptions/put_subscription.json")
    link["body"] = json.dumps({"subscription_id": manual.id})
    assert error_code(invoke(SUBSCRIPTIONS, link))[0] in (409, 422)
    draft_id = str(manual.latest_invoice)

    pipeline.deliver(pipeline.stripe_event("invoice.created", draft_id))
    pipeline.process()

    (flagged,) = [i for i in listed(invoke, "pending") if i["invoice_id"] == draft_id]
    assert "not linked" in flagged["attention"]
    (notice,) = [m for m in messages_of(pipeline, "invoice.review_requested") if draft_id in m["Message"]]
    assert "not linked" in json.loads(notice["Message"])["attention"]
    assert error_code(approve(invoke, draft_id)) == (409, "invoice_subscription_not_linked")
    assert stripe_client.v1.invoices.retrieve(draft_id).auto_advance is False  # held for Finance meanwhile


def test_the_create_path_announces_the_first_invoice_once_without_waiting_for_its_webhook(
    invoke: Invoke, pipeline: Pipeline, subscribed_ready: None
) -> None:
    """Issue 9 §4: Finance heard of a re-subscription's draft only from the reminder, days later. The click now
    sends the review notice itself; the webhook's (same notice key) adds nothing."""
    event = load_event("subscriptions/post_subscription.json")
    created = invoke(SUBSCRIPTIONS, event)
    assert created["statusCode"] == 201, created["body"]
    invoice_id = body_of(created)["first_invoice"]["id"]

    (notice,) = messages_of(pipeline, "invoice.review_requested")  # no webhook delivered yet
    assert json.loads(notice["Message"])["invoice"]["invoice_id"] == invoice_id
    # The template cannot give this function its API's URL (a dependency cycle): the link is the request's API.
    context = event["requestContext"]
    expected = f"https://{context['domainName']}/{context['stage']}/invoices/{invoice_id}/approve"
    assert json.loads(notice["Message"])["approve_url"] == expected
    assert [i["invoice_id"] for i in listed(invoke, "pending")] == [invoice_id]

    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))
    pipeline.process()
    assert messages_of(pipeline, "invoice.review_requested") == []


def test_finance_is_told_of_unpaid_invoices_stripe_stops_collecting_after_a_cancellation(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any], stripe_client: stripe.StripeClient
) -> None:
    """On cancellation Stripe stops collecting the subscription's finalized invoices
    (https://docs.stripe.com/billing/subscriptions/cancel): Finance must collect them."""
    invoice_id = subscribed["first_invoice"]["id"]
    assert approve(invoke, invoice_id)["statusCode"] == 200  # open, emailed, unpaid
    assert invoke(SUBSCRIPTIONS, load_event("subscriptions/delete_subscription_now.json"))["statusCode"] == 200
    pipeline.finance_messages()  # the create path's review notice
    pipeline.deliver(pipeline.stripe_event("customer.subscription.deleted", subscribed["subscription_id"]))
    pipeline.process()

    (notice,) = messages_of(pipeline, "subscription.canceled")
    data = json.loads(notice["Message"])
    assert invoice_id in [unpaid["id"] for unpaid in data["unpaid_invoices"]]
    assert data["unreviewed_first_invoice_voided"] is None
