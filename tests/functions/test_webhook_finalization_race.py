"""A failing invoice.created webhook delays Stripe's finalization; once delivered, the draft is held for Finance.

"Stripe waits until one hour after the last webhook was successfully sent (or the last webhook timed out after
failing)" before finalizing an auto_advance draft (https://docs.stripe.com/api/invoices/object, field
`automatically_finalizes_at`; at most 72 h: https://docs.stripe.com/invoicing/integration/workflow-transitions).
The emulator models it (issue 10 §2); this is the product's side of that race (issue 9 §2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from incytes_billing.models.catalog import load_catalog
from stripe_emulator import StripeEmulator
from tests.emulator.receiver import Receiver
from tests.functions.pipeline import Pipeline


@pytest.fixture(scope="module")
def stripe_emulator() -> Iterator[StripeEmulator]:
    """This module's own emulator: webhook retries within a second of real time, not minutes."""
    with StripeEmulator(webhook_retry_delays=(0.2, 0.2, 0.2)) as emulator:
        yield emulator


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


def test_a_failing_webhook_delays_finalization_and_the_draft_is_held_once_it_arrives(
    pipeline: Pipeline,
    subscribed_ready: None,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    receiver: Receiver,
) -> None:
    stripe_emulator.add_webhook_endpoint(receiver.url, "whsec_receiver", ["invoice.created"])
    receiver.respond_with(500)  # our endpoint fails the first delivery, then answers 200
    receiver.hold()  # ... and that first attempt hangs while Stripe's clock moves on
    seat_price = stripe_client.v1.prices.list({"lookup_keys": [load_catalog().lookup_key("seat", "usd")]}).data[0]
    manual = stripe_client.v1.subscriptions.create(  # made by Finance in the Dashboard: nothing held it
        {
            "customer": "cus_LocalDemoAcme",
            "items": [{"price": seat_price.id, "quantity": 2}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    draft_id = str(manual.latest_invoice)
    receiver.wait_for(1)

    stripe_emulator.advance_clock(2 * 3600)  # past the usual hour: the webhook has not been delivered
    draft = stripe_client.v1.invoices.retrieve(draft_id)
    assert (draft.status, draft.auto_advance, draft.webhooks_delivered_at) == ("draft", True, None)

    receiver.release()  # 500, then the retry is answered 200
    assert stripe_emulator.wait_for_deliveries(timeout=5)
    delivered: list[Any] = [json.loads(request.body) for request in receiver.wait_for(2)]
    assert delivered[-1]["type"] == "invoice.created"
    pipeline.deliver(json.dumps(delivered[-1]))  # what our endpoint got
    pipeline.process()

    stripe_emulator.advance_clock(3 * 3600)  # well past the delivery + 1 h: held, it stays a draft
    held = stripe_client.v1.invoices.retrieve(draft_id)
    assert (held.status, held.auto_advance) == ("draft", False)
    record = pipeline.invoice(draft_id)
    assert record is not None
    assert record["review_status"] == "pending"
