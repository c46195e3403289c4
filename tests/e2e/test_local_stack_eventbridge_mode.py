"""End to end: `make local` with `LOCAL_PARAMETER_OVERRIDES="StripeEventIngress=eventbridge"` (issue 14 §3). The
stack makes Stripe's two Amazon EventBridge event destinations in the emulator, as a customer does in Workbench,
and creates the template's buses for their partner event sources; the emulator puts each event on its source
(PutPartnerEvents), the rule queues it and the processor stores and applies it. There is no webhook route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import stripe

from local_stack.process import LocalStackProcess
from tests.support import call_json

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess(env={"LOCAL_PARAMETER_OVERRIDES": "StripeEventIngress=eventbridge"}) as process:
        yield process


def test_stripe_events_arrive_through_eventbridge_and_there_is_no_webhook(stack: LocalStackProcess) -> None:
    assert "EventBridge aws.partner/stripe.com/" in stack.output
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": stack.stripe_url})
    sources = {d.amazon_eventbridge.aws_event_source_arn.split("/", 1)[1]: d.event_payload  # type: ignore[union-attr]
               for d in client.v2.core.event_destinations.list().data}  # fmt: skip
    assert sorted(sources.values()) == ["snapshot", "thin"]

    customer = str(client.v1.customers.create({"name": "Bridge Clinic"}).id)
    base = f"{stack.api_url}/funders/bridge-demo"
    assert call_json("PUT", base, {"name": "Bridge Clinic", "stripe_customer_id": customer})[0] == 200
    status, created = call_json("POST", f"{base}/subscription", {"seats": 2})
    assert status == 201, created
    invoice_id = created["first_invoice"]["id"]

    dynamodb = boto3.resource(
        "dynamodb", endpoint_url=stack.aws_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    (table_name,) = [t.name for t in dynamodb.tables.all() if "StripeEventsTable" in t.name]
    table = dynamodb.Table(table_name)
    deadline, applied = time.monotonic() + 30, list[dict[str, Any]]()
    while time.monotonic() < deadline and not applied:
        items = table.scan()["Items"]
        applied = [i for i in items if i["type"] == "invoice.created" and invoice_id in str(i["payload"])
                   and i["status"] == "processed"]  # fmt: skip
        time.sleep(0.5)
    assert applied, "invoice.created never came through EventBridge"
    assert call_json("POST", f"{stack.api_url}/stripe/webhook", {})[0] in (403, 404)  # no public route
