"""SubscriptionsFunction invoked with events/ files, against moto and the Stripe emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from incytes_billing.wiring.catalog_sync import run_catalog_sync
from stripe_emulator import StripeEmulator
from tests.support import EMULATOR_API_KEY, Invoke, load_event

FUNCTION = "SubscriptionsFunction"
FUNDERS = "FundersFunction"


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    error = body_of(response)["error"]
    assert error["code"] == code
    return error


def subscription_event(name: str, **changes: Any) -> dict[str, Any]:
    event = load_event(f"subscriptions/{name}")
    if "body" in changes:
        event["body"] = json.dumps(changes.pop("body"))
    event.update(changes)
    return event


@pytest.fixture
def catalog(stripe_api: str) -> None:
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)


@pytest.fixture
def linked_funder(invoke: Invoke, demo_customer: str) -> str:
    response = invoke(FUNDERS, load_event("funders/put_funder_linked.json"))
    assert response["statusCode"] == 200, response["body"]
    return "f1"


def schedules_created(emulator: StripeEmulator) -> int:
    return sum(
        1
        for entry in emulator.requests_log()
        if entry["method"] == "POST" and entry["path"] == "/v1/subscription_schedules" and entry["status"] == 200
    )


def test_one_click_subscription_holds_a_draft_first_invoice(
    invoke: Invoke,
    catalog: None,
    linked_funder: str,
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
) -> None:
    response = invoke(FUNCTION, load_event("subscriptions/post_subscription.json"))

    assert response["statusCode"] == 201, response["body"]
    created = body_of(response)
    assert set(created) == {"subscription_id", "status", "currency", "items", "first_invoice"}
    assert (created["status"], created["currency"]) == ("active", "usd")
    assert [(item["kind"], item["quantity"]) for item in created["items"]] == [
        ("seat", 3),
        ("case", None),
        ("sms", None),
    ]
    first = created["first_invoice"]
    assert (first["status"], first["amount_due"], first["currency"]) == ("draft", 3 * 3500, "usd")

    invoice = stripe_client.v1.invoices.retrieve(first["id"])
    assert (invoice.status, invoice.auto_advance) == ("draft", False)
    subscription = stripe_client.v1.subscriptions.retrieve(created["subscription_id"])
    assert subscription.schedule is None  # released
    assert subscription.metadata["incytes_funder_id"] == "f1"

    # Two hours of Stripe time later, the held draft is still a draft.
    stripe_emulator.advance_clock(2 * 3600)
    assert stripe_client.v1.invoices.retrieve(first["id"]).status == "draft"

    funder = body_of(invoke(FUNDERS, load_event("funders/get_funder.json")))
    summary = funder["subscription"]
    assert summary["subscription_id"] == created["subscription_id"]
    assert summary["first_invoice"]["review_status"] == "pending"
    assert summary["current_period_end"] > summary["current_period_start"]


def test_retry_with_the_same_idempotency_key_replays_the_first_answer(
    invoke: Invoke, catalog: None, linked_funder: str, stripe_emulator: StripeEmulator
) -> None:
    first = invoke(FUNCTION, load_event("subscriptions/post_subscription.json"))
    again = invoke(FUNCTION, load_event("subscriptions/post_subscription.json"))
    assert (first["statusCode"], again["statusCode"]) == (201, 201)
    assert body_of(again) == body_of(first)
    assert schedules_created(stripe_emulator) == 1

    reused = invoke(FUNCTION, subscription_event("post_subscription.json", body={"seats": 9}))
    assert_error(reused, 422, "idempotency_key_reused")
    no_key = invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json"))
    assert "sub_" in assert_error(no_key, 409, "subscription_exists")["message"]
    assert schedules_created(stripe_emulator) == 1


def test_funder_without_customer_is_told_to_set_it(
    invoke: Invoke, catalog: None, stripe_emulator: StripeEmulator
) -> None:
    assert invoke(FUNDERS, load_event("funders/put_funder.json"))["statusCode"] == 200
    stripe_emulator.clear_requests_log()
    error = assert_error(
        invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json")), 409, "stripe_customer_missing"
    )
    assert "Stripe Customer ID" in error["message"]
    assert stripe_emulator.requests_log() == []  # nothing asked of Stripe


def test_missing_catalog_is_named(invoke: Invoke, linked_funder: str) -> None:
    error = assert_error(
        invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json")), 409, "catalog_incomplete"
    )
    assert "incytes_seat_usd" in error["message"]


def test_unknown_funder_and_bad_input(invoke: Invoke) -> None:
    assert_error(invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json")), 404, "funder_not_found")
    assert_error(
        invoke(FUNCTION, subscription_event("post_subscription.json", body={"seats": 0})), 422, "validation_error"
    )
    assert_error(
        invoke(FUNCTION, subscription_event("post_subscription.json", body={"plan": "x"})), 422, "validation_error"
    )
    assert_error(invoke(FUNCTION, subscription_event("patch_subscription.json", body={})), 422, "validation_error")
    assert_error(
        invoke(FUNCTION, subscription_event("put_subscription.json", body={"subscription_id": "in_1"})),
        422,
        "validation_error",
    )
    bad_when = subscription_event("delete_subscription.json", queryStringParameters={"when": "later"})
    bad_when["multiValueQueryStringParameters"] = {"when": ["later"]}
    assert_error(invoke(FUNCTION, bad_when), 422, "validation_error")
    long_key = load_event("subscriptions/post_subscription.json")
    long_key["headers"]["Idempotency-Key"] = "k" * 256
    long_key["multiValueHeaders"]["Idempotency-Key"] = ["k" * 256]
    assert_error(invoke(FUNCTION, long_key), 422, "validation_error")


def test_stripe_down_is_503_and_a_retry_succeeds(
    invoke: Invoke, catalog: None, linked_funder: str, stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    stripe_emulator.inject_fault(path_prefix="/v1/subscription_schedules", method="POST", status=500, count=1)
    failed = invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json"))
    assert_error(failed, 503, "stripe_unavailable")
    assert failed["multiValueHeaders"]["Retry-After"]
    retried = invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json"))
    assert retried["statusCode"] == 201, retried["body"]
    assert schedules_created(stripe_emulator) == 1


def test_seats_wait_for_review_then_change(
    invoke: Invoke, catalog: None, linked_funder: str, stripe_client: stripe.StripeClient
) -> None:
    assert_error(invoke(FUNCTION, load_event("subscriptions/patch_subscription.json")), 409, "subscription_missing")
    created = body_of(invoke(FUNCTION, load_event("subscriptions/post_subscription.json")))
    assert_error(
        invoke(FUNCTION, load_event("subscriptions/patch_subscription.json")), 409, "first_invoice_pending_review"
    )

    stripe_client.v1.invoices.finalize_invoice(created["first_invoice"]["id"], {"auto_advance": True})  # Dashboard
    changed = invoke(FUNCTION, load_event("subscriptions/patch_subscription.json"))

    assert changed["statusCode"] == 200, changed["body"]
    funder = body_of(changed)
    assert funder["seats"] == 5
    seat = next(item for item in funder["subscription"]["items"] if item["kind"] == "seat")
    assert stripe_client.v1.subscription_items.retrieve(seat["item_id"]).quantity == 5
    # Approved or missed is for the invoice.finalized webhook to say (who finalized it): here, its status.
    assert funder["subscription"]["first_invoice"]["status"] == "open"


def test_cancel_at_period_end_then_now(
    invoke: Invoke, catalog: None, linked_funder: str, stripe_client: stripe.StripeClient
) -> None:
    assert_error(invoke(FUNCTION, load_event("subscriptions/delete_subscription.json")), 409, "subscription_missing")
    created = body_of(invoke(FUNCTION, load_event("subscriptions/post_subscription.json")))

    ending = invoke(FUNCTION, load_event("subscriptions/delete_subscription.json"))
    assert ending["statusCode"] == 200, ending["body"]
    assert body_of(ending)["subscription"]["cancel_at_period_end"] is True
    assert stripe_client.v1.subscriptions.retrieve(created["subscription_id"]).cancel_at_period_end is True

    ended = invoke(FUNCTION, load_event("subscriptions/delete_subscription_now.json"))
    assert ended["statusCode"] == 200, ended["body"]
    assert body_of(ended)["subscription"]["status"] == "canceled"
    assert stripe_client.v1.subscriptions.retrieve(created["subscription_id"]).status == "canceled"
    # The funder is free again: its customer may change.
    relinked = invoke(
        FUNDERS,
        load_event("funders/put_funder.json") | {"body": json.dumps({"name": "Acme", "stripe_customer_id": None})},
    )
    assert relinked["statusCode"] == 200, relinked["body"]


def manual_subscription(client: stripe.StripeClient, customer: str, lookup_keys: list[str]) -> str:
    prices = client.v1.prices.list({"lookup_keys": lookup_keys}).data
    items: list[dict[str, Any]] = [
        {"price": price.id, **({"quantity": 2} if price.recurring and price.recurring.usage_type == "licensed" else {})}
        for price in prices
    ]
    subscription = client.v1.subscriptions.create(
        {"customer": customer, "items": items, "collection_method": "send_invoice", "days_until_due": 15}  # type: ignore[arg-type]
    )
    return subscription.id


def test_link_a_manual_subscription(
    invoke: Invoke, catalog: None, linked_funder: str, stripe_client: stripe.StripeClient
) -> None:
    without_sms = manual_subscription(stripe_client, "cus_LocalDemoAcme", ["incytes_seat_usd", "incytes_case_usd"])
    refused = invoke(FUNCTION, subscription_event("put_subscription.json", body={"subscription_id": without_sms}))
    assert_error(refused, 422, "sms_item_required")
    stripe_client.v1.subscriptions.cancel(without_sms)
    assert_error(
        invoke(FUNCTION, subscription_event("put_subscription.json", body={"subscription_id": without_sms})),
        422,
        "subscription_canceled",
    )
    other = stripe_client.v1.customers.create({"name": "Other"})
    foreign = manual_subscription(stripe_client, other.id, ["incytes_sms_usd"])
    assert_error(
        invoke(FUNCTION, subscription_event("put_subscription.json", body={"subscription_id": foreign})),
        422,
        "subscription_customer_mismatch",
    )

    manual = manual_subscription(stripe_client, "cus_LocalDemoAcme", ["incytes_seat_usd", "incytes_sms_usd"])
    linked = invoke(FUNCTION, subscription_event("put_subscription.json", body={"subscription_id": manual}))

    assert linked["statusCode"] == 200, linked["body"]
    record = body_of(linked)["subscription"]
    assert (record["subscription_id"], record["origin"]) == (manual, "linked")
    assert sorted(item["kind"] for item in record["items"]) == ["seat", "sms"]
    assert body_of(linked)["seats"] == 2
    assert stripe_client.v1.subscriptions.retrieve(manual).metadata["incytes_funder_id"] == "f1"


def test_stripe_refusal_is_422_with_stripes_message(
    invoke: Invoke, catalog: None, linked_funder: str, stripe_client: stripe.StripeClient
) -> None:
    # The customer already bills in USD: Stripe refuses a EUR subscription for it.
    stripe_client.v1.invoice_items.create({"customer": "cus_LocalDemoAcme", "amount": 100, "currency": "usd"})
    refused = invoke(FUNCTION, subscription_event("post_subscription_empty.json", body={"currency": "eur"}))
    error = assert_error(refused, 422, "stripe_rejected")
    assert "currenc" in error["message"].lower()
    # Nothing half-made is left behind: a USD subscription can still be created right away.
    assert invoke(FUNCTION, load_event("subscriptions/post_subscription_empty.json"))["statusCode"] == 201
