"""Exactly one subscription per click (issue 3): concurrency and a crash between Stripe and DynamoDB.

Real adapters: DynamoDB (moto, tables from template.yaml) and the Stripe SDK against the emulator.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeSettings
from incytes_billing.domain.policy import SubscriptionPolicy
from incytes_billing.domain.subscriptions import SubscriptionService
from incytes_billing.errors import BillingError, SubscriptionExists, SubscriptionInProgress
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.funder import Funder
from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.fakes import Clock
from tests.support import EMULATOR_API_KEY

POLICY = SubscriptionPolicy(
    collection_method="send_invoice", days_until_due=30, proration_behavior="create_prorations", automatic_tax=False
)


class CrashOnStore(DynamoDBFunderRepository):
    """Dies like a Lambda timeout would, on the write that records the subscription."""

    crash = True

    def save(self, funder: Funder, *, expected_version: int | None) -> None:
        if self.crash and funder.subscription is not None:
            raise RuntimeError("process died")
        super().save(funder, expected_version=expected_version)


@pytest.fixture
def customer(stripe_client: stripe.StripeClient, stripe_api: str) -> str:
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    return stripe_client.v1.customers.create({"name": "Acme"}).id


@pytest.fixture
def table(aws: StackResources, customer: str) -> Any:
    table = boto3.resource("dynamodb").Table(aws["FundersTable"])
    now = datetime.now(UTC).isoformat()
    table.put_item(
        Item={
            "funder_id": "f1",
            "name": "Acme",
            "stripe_customer_id": customer,
            "currency": "usd",
            "seats": 2,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
    )
    return table


def service_for(stripe_api: str, repository: DynamoDBFunderRepository, clock: Clock) -> SubscriptionService:
    settings = StripeSettings(stripe_api, 5.0, 0, 3, 0.0)
    gateway = StripeGateway(build_stripe_client(EMULATOR_API_KEY, settings), settings)
    return SubscriptionService(repository, gateway, load_catalog(), POLICY, clock=clock)


def stripe_subscriptions(client: stripe.StripeClient, customer: str) -> list[str]:
    return [s.id for s in client.v1.subscriptions.list({"customer": customer, "status": "all"}).data]


def test_two_concurrent_clicks_make_one_subscription(
    table: Any, stripe_api: str, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient, customer: str
) -> None:
    service = service_for(stripe_api, DynamoDBFunderRepository(table), Clock(datetime.now(UTC)))
    # The first request is slow inside Stripe, so the second arrives while it is in flight.
    stripe_emulator.inject_fault(path_prefix="/v1/subscription_schedules", method="POST", status=200, hang_seconds=1.0)
    outcomes: dict[str, Any] = {}

    def click(name: str) -> None:
        try:
            outcomes[name] = service.create("f1", seats=None, currency=None)
        except BillingError as error:
            outcomes[name] = error

    first = threading.Thread(target=click, args=("first",))
    first.start()
    time.sleep(0.3)
    click("second")
    first.join()

    assert isinstance(outcomes["second"], SubscriptionInProgress)
    funder = outcomes["first"]
    assert isinstance(funder, Funder)
    assert funder.subscription is not None
    assert stripe_subscriptions(stripe_client, customer) == [funder.subscription.subscription_id]
    with pytest.raises(SubscriptionExists):  # the second client's retry
        service.create("f1", seats=None, currency=None)
    assert stripe_subscriptions(stripe_client, customer) == [funder.subscription.subscription_id]


def test_crash_after_stripe_succeeded_is_recovered_without_a_second_subscription(
    table: Any, stripe_api: str, stripe_client: stripe.StripeClient, customer: str
) -> None:
    clock = Clock(datetime.now(UTC))
    repository = CrashOnStore(table)
    service = service_for(stripe_api, repository, clock)
    with pytest.raises(RuntimeError, match="process died"):
        service.create("f1", seats=None, currency=None)
    (orphan,) = stripe_subscriptions(stripe_client, customer)
    assert DynamoDBFunderRepository(table).get("f1").subscription is None  # type: ignore[union-attr]

    repository.crash = False
    with pytest.raises(SubscriptionInProgress):  # the dead run's claim holds until it expires
        service.create("f1", seats=None, currency=None)
    clock.now += timedelta(seconds=POLICY.claim_seconds + 1)
    funder = service.create("f1", seats=None, currency=None)

    assert funder.subscription is not None
    assert funder.subscription.subscription_id == orphan
    assert stripe_subscriptions(stripe_client, customer) == [orphan]
    stored = DynamoDBFunderRepository(table).get("f1")
    assert stored is not None
    assert stored.subscription is not None
    assert stored.subscription.subscription_id == orphan
    assert funder.subscription.first_invoice is not None
    assert stripe_client.v1.invoices.retrieve(funder.subscription.first_invoice.id).auto_advance is False
