"""Replayed undelivered events carry the object as Stripe has it now, not the snapshot events.list renders in
the API version of the event's creation (docs/stripe-facts.md, "Webhooks and events")."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeSettings
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.support import EMULATOR_API_KEY, Invoke, load_event

SCHEDULE = load_event("schedule/scheduled_event.json")  # as `sam local generate-event` makes it


def gateway(api_base: str) -> StripeGateway:
    config = StripeSettings(
        api_base=api_base,
        timeout_seconds=2.0,
        max_network_retries=0,
        rate_limit_attempts=1,
        rate_limit_backoff_seconds=0.0,
    )
    return StripeGateway(build_stripe_client(EMULATOR_API_KEY, config), config)


def wait_for_failed_deliveries(stripe_emulator: StripeEmulator, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(stripe_emulator.webhook_deliveries()) < count:
        time.sleep(0.05)  # the first (failing) attempts


def test_replayed_event_carries_the_object_as_stripe_has_it_now(
    invoke: Invoke, aws: StackResources, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    stripe_emulator.add_webhook_endpoint("http://127.0.0.1:9/unreachable", "whsec_elsewhere")
    customer = stripe_client.v1.customers.create({"name": "Before"})
    stripe_client.v1.customers.update(customer.id, {"name": "After"})
    wait_for_failed_deliveries(stripe_emulator, 2)
    undelivered = stripe_client.v1.events.list({"delivery_success": False, "type": "customer.created"}).data
    assert [e.data.object["name"] for e in undelivered] == ["Before"]  # what Stripe's snapshot says

    report = invoke("ReconcilerFunction", SCHEDULE)

    assert report["replayed"] >= 2
    stored = boto3.resource("dynamodb").Table(aws["StripeEventsTable"]).scan()["Items"]
    created = [e for e in stored if e["type"] == "customer.created"]
    assert [e["event_id"] for e in created] == [undelivered[0].id]
    replayed = json.loads(str(created[0]["payload"]))
    assert replayed["id"] == undelivered[0].id
    assert replayed["data"]["object"]["id"] == customer.id
    assert replayed["data"]["object"]["name"] == "After"  # re-fetched, not the snapshot's "Before"
    assert invoke("ReconcilerFunction", SCHEDULE)["replayed"] == 0  # already stored: not again


@pytest.fixture
def unreachable_endpoint(stripe_emulator: StripeEmulator, stripe_api: str) -> None:
    """A second endpoint Stripe cannot reach: every event from now on counts as undelivered (events.list
    delivery_success=false). Listed before `subscribed`, so that the subscription's events are among them."""
    stripe_emulator.add_webhook_endpoint("http://127.0.0.1:9/unreachable", "whsec_elsewhere")


def test_undelivered_invoice_and_subscription_events_are_replayed_and_applied(
    unreachable_endpoint: None,
    subscribed: dict[str, Any],
    pipeline: Pipeline,
    aws: StackResources,
    stripe_emulator: StripeEmulator,
) -> None:
    """Invoice and subscription events carry Decimal fields in the SDK (`unit_amount_decimal` of prices and
    line pricing): serialised as Stripe sent them, each is replayed into the pipeline and applied."""
    invoice_id = subscribed["first_invoice"]["id"]
    stripe_emulator.wait_for_deliveries()

    report = pipeline.invoke("ReconcilerFunction", SCHEDULE)

    assert report["replay_failed"] == []
    stored = boto3.resource("dynamodb").Table(aws["StripeEventsTable"]).scan()["Items"]
    by_type = {str(e["type"]): json.loads(str(e["payload"])) for e in stored}
    assert {"invoice.created", "customer.subscription.created"} <= by_type.keys()
    invoice = by_type["invoice.created"]["data"]["object"]
    assert invoice["id"] == invoice_id
    prices = [item["price"] for item in by_type["customer.subscription.created"]["data"]["object"]["items"]["data"]]
    assert {type(price["unit_amount_decimal"]) for price in prices} == {str}  # text, as Stripe sends it

    pipeline.process()
    created = next(e for e in stored if e["type"] == "invoice.created")
    assert pipeline.event_status(str(created["event_id"])) == "processed"
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert record["review_status"] == "pending"


def test_current_object_is_plain_json_in_our_api_version(
    stripe_api: str, stripe_client: stripe.StripeClient, subscribed: dict[str, Any]
) -> None:
    adapter = gateway(stripe_api)
    invoice_id = subscribed["first_invoice"]["id"]
    invoice = adapter.current_object("invoice", invoice_id)
    assert invoice is not None
    assert (invoice["object"], invoice["id"]) == ("invoice", invoice_id)
    assert json.loads(json.dumps(invoice)) == invoice  # nested objects are plain dicts and lists

    subscription_id = invoice["parent"]["subscription_details"]["subscription"]
    subscription = adapter.current_object("subscription", subscription_id)
    assert subscription is not None
    assert subscription["id"] == subscription_id
    assert isinstance(subscription["items"], dict)
    assert isinstance(subscription["items"]["data"][0]["price"], dict)
    assert json.loads(json.dumps(subscription)) == subscription


def test_current_object_of_missing_deleted_and_other_objects(
    stripe_api: str, stripe_client: stripe.StripeClient
) -> None:
    adapter = gateway(stripe_api)
    gone = stripe_client.v1.customers.create({"name": "Gone"})
    stripe_client.v1.customers.delete(gone.id)

    deleted = adapter.current_object("customer", gone.id)
    assert deleted is not None
    assert (deleted["id"], deleted["deleted"]) == (gone.id, True)  # 200 with deleted: true, kept
    assert adapter.current_object("customer", "cus_Unknown") is None
    assert adapter.current_object("invoice", "in_Unknown") is None
    assert adapter.current_object("subscription", "sub_Unknown") is None
    product = stripe_client.v1.products.create({"name": "Not re-fetched"})
    assert adapter.current_object("product", product.id) is None
