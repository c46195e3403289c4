"""When Stripe finalizes an ``auto_advance`` draft: "Stripe waits until one hour after the last webhook was
successfully sent (or the last webhook timed out after failing). If you ... have no webhooks configured,
Stripe waits one hour after creation to finalize the invoice" (https://docs.stripe.com/api/invoices/object);
"If we don't receive a successful response within 72 hours, we attempt to finalize and send the invoice"
(https://docs.stripe.com/invoicing/integration/workflow-transitions).

Emulator only: the tests move the emulator clock and point webhook endpoints at this machine. Deliveries
run in real time (retries every 50 ms here), the finalization grace in emulator time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.receiver import Receiver, closed_port_url
from tests.emulator.support import Factory, make_client
from tests.support import EMULATOR_API_KEY

HOUR = 3600
LIMIT = 72 * HOUR
SECRET = "whsec_local"


@pytest.fixture(scope="module")
def retrying_emulator() -> Iterator[StripeEmulator]:
    """Retries a failed delivery every 50 ms for 10 s: longer than a test needs to move the clock."""
    with StripeEmulator(webhook_retry_delays=(0.05,) * 200, webhook_timeout=2.0) as emulator:
        yield emulator


@pytest.fixture
def hooks(retrying_emulator: StripeEmulator) -> Iterator[StripeEmulator]:
    retrying_emulator.reset()
    yield retrying_emulator
    retrying_emulator.reset()  # drops the retries still queued


def _draft(emulator: StripeEmulator, **schedule: Any) -> tuple[stripe.StripeClient, stripe.Invoice]:
    """A one-click subscription's ``auto_advance`` draft first invoice."""
    client = make_client(EMULATOR_API_KEY, emulator.url)
    make = Factory(client, "finalization")
    created = make.schedule(make.customer().id, make.catalog(), **schedule)
    subscription = client.v1.subscriptions.retrieve(str(created.subscription))
    invoice = client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (invoice.status, invoice.auto_advance) == ("draft", True)
    return client, invoice


def _failed_attempts(emulator: StripeEmulator, count: int = 1) -> None:
    deadline = time.monotonic() + 5
    while sum(not attempt["delivered"] for attempt in emulator.webhook_deliveries()) < count:
        assert time.monotonic() < deadline, emulator.webhook_deliveries()
        time.sleep(0.02)


def _finalized_at(emulator: StripeEmulator, invoice_id: str) -> list[int]:
    return [e["created"] for e in emulator.events("invoice.finalized") if e["data"]["object"]["id"] == invoice_id]


def test_without_webhooks_a_draft_finalizes_an_hour_after_creation(emulator: StripeEmulator) -> None:
    """No endpoint gets ``invoice.created`` (one subscribed to other types does not count):
    ``webhooks_delivered_at`` is set at creation ("If the invoice had no webhooks to deliver, this will be
    set while the invoice is being created", https://docs.stripe.com/api/invoices/object#invoice_object-webhooks_delivered_at)
    and the draft is finalized an hour later."""
    emulator.add_webhook_endpoint(closed_port_url(), SECRET, ["customer.created"])
    client, invoice = _draft(emulator)
    assert invoice.id
    assert (invoice.webhooks_delivered_at, invoice.automatically_finalizes_at) == (
        invoice.created,
        invoice.created + HOUR,
    )
    emulator.advance_clock(HOUR)
    assert client.v1.invoices.retrieve(invoice.id).status == "open"
    assert _finalized_at(emulator, invoice.id) == [invoice.created + HOUR]


def test_a_failing_webhook_holds_the_draft_until_an_hour_after_it_is_delivered(
    hooks: StripeEmulator, receiver: Receiver
) -> None:
    """While ``invoice.created`` fails at the endpoint the draft stays a draft past the hour
    (``webhooks_delivered_at`` null, finalization put off to the 72-hour limit); once a retry succeeds,
    ``webhooks_delivered_at`` records when, and the draft is finalized an hour after that
    (https://docs.stripe.com/api/invoices/object, https://docs.stripe.com/billing/subscriptions/webhooks#understand)."""
    endpoint = hooks.add_webhook_endpoint(closed_port_url(), SECRET, ["invoice.created"])
    client, invoice = _draft(hooks)
    assert invoice.id
    assert (invoice.webhooks_delivered_at, invoice.automatically_finalizes_at) == (None, invoice.created + HOUR)
    _failed_attempts(hooks, 2)

    hooks.advance_clock(2 * HOUR)
    held = client.v1.invoices.retrieve(invoice.id)
    assert (held.status, held.webhooks_delivered_at) == ("draft", None)
    assert held.automatically_finalizes_at == invoice.created + LIMIT
    assert _finalized_at(hooks, invoice.id) == []

    client.v1.webhook_endpoints.update(endpoint["id"], {"url": receiver.url})  # the next retry succeeds
    assert hooks.wait_for_deliveries(timeout=10), hooks.webhook_deliveries()
    delivered = client.v1.invoices.retrieve(invoice.id)
    assert delivered.webhooks_delivered_at is not None
    assert invoice.created + 2 * HOUR <= delivered.webhooks_delivered_at <= hooks.now()
    assert (delivered.status, delivered.automatically_finalizes_at) == (
        "draft",
        delivered.webhooks_delivered_at + HOUR,
    )
    (sent,) = receiver.events(SECRET)
    assert (sent.type, sent.data.object["webhooks_delivered_at"]) == ("invoice.created", None)

    hooks.set_clock(delivered.webhooks_delivered_at + HOUR - 1)
    assert client.v1.invoices.retrieve(invoice.id).status == "draft"
    hooks.set_clock(delivered.webhooks_delivered_at + HOUR)
    assert client.v1.invoices.retrieve(invoice.id).status == "open"
    assert _finalized_at(hooks, invoice.id) == [delivered.webhooks_delivered_at + HOUR]


def test_without_a_successful_delivery_the_draft_is_finalized_72_hours_after_creation(hooks: StripeEmulator) -> None:
    """An endpoint that keeps failing delays finalization at most 72 hours: "If we don't receive a
    successful response within 72 hours, we attempt to finalize and send the invoice"
    (https://docs.stripe.com/invoicing/integration/workflow-transitions)."""
    hooks.add_webhook_endpoint(closed_port_url(), SECRET, ["invoice.created"])
    client, invoice = _draft(hooks)
    assert invoice.id
    _failed_attempts(hooks)

    hooks.set_clock(invoice.created + LIMIT - 1)
    assert client.v1.invoices.retrieve(invoice.id).status == "draft"
    hooks.set_clock(invoice.created + LIMIT)
    finalized = client.v1.invoices.retrieve(invoice.id)
    assert (finalized.status, finalized.webhooks_delivered_at) == ("open", None)  # still being retried
    assert _finalized_at(hooks, invoice.id) == [invoice.created + LIMIT]


def test_a_delivery_given_up_ends_the_wait() -> None:
    """After the last retry fails ("or the last webhook timed out after failing",
    https://docs.stripe.com/api/invoices/object) the draft is finalized an hour later."""
    with StripeEmulator(webhook_retry_delays=(0.05,)) as emulator:
        emulator.add_webhook_endpoint(closed_port_url(), SECRET, ["invoice.created"])
        client, invoice = _draft(emulator)
        assert invoice.id
        assert emulator.wait_for_deliveries(timeout=10)
        assert [attempt["attempt"] for attempt in emulator.webhook_deliveries()] == [1, 2]
        given_up = client.v1.invoices.retrieve(invoice.id)
        assert given_up.webhooks_delivered_at is not None
        assert given_up.automatically_finalizes_at == given_up.webhooks_delivered_at + HOUR

        emulator.set_clock(given_up.webhooks_delivered_at + HOUR)
        assert client.v1.invoices.retrieve(invoice.id).status == "open"


def test_a_chosen_finalization_time_is_not_delayed_by_failing_webhooks(hooks: StripeEmulator) -> None:
    """ "When you use a custom finalization time for invoices, finalization won't be delayed because of
    invoice.created webhook failures" (https://docs.stripe.com/invoicing/scheduled-finalization)."""
    hooks.add_webhook_endpoint(closed_port_url(), SECRET, ["invoice.created"])
    client, invoice = _draft(hooks, collection_method="charge_automatically")
    assert invoice.id
    at = invoice.created + 2 * HOUR
    scheduled = client.v1.invoices.update(invoice.id, {"automatically_finalizes_at": at})
    assert (scheduled.automatically_finalizes_at, scheduled.next_payment_attempt) == (at, at)

    hooks.set_clock(at)
    finalized = client.v1.invoices.retrieve(invoice.id)
    assert (finalized.status, finalized.webhooks_delivered_at) == ("open", None)
    assert _finalized_at(hooks, invoice.id) == [at]
