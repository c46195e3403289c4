"""Issue 14 §3: Stripe's events through Amazon EventBridge, in-process. The emulator's event destinations (type
`amazon_eventbridge`) put each event on their partner event source in moto; the stack's bus for that source (created
from template.yaml with StripeEventIngress set), its rule and the SQS target feed WebhookProcessorFunction, as on
AWS (https://docs.stripe.com/event-destinations/eventbridge). moto is patched where it differs from AWS on partner
event buses (devtools/moto_partner_events.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local_stack.stack import emulator_event_destinations
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.conftest import AWS_REGION
from tests.functions.pipeline import Pipeline
from tests.support import template

INGRESS = "eventbridge"  # the module's mode; `both` tests override it through the `ingress` fixture


@pytest.fixture
def ingress() -> str:
    return INGRESS


@pytest.fixture
def destinations(stripe_api: str) -> dict[str, str]:
    """Stripe's two destinations (snapshot events; thin meter error reports) in this account, made as `make local`
    makes them: the partner event source of each, as the template parameter `sam deploy` is given."""
    return emulator_event_destinations(stripe_api)


@pytest.fixture
def stack_parameters(ingress: str, destinations: dict[str, str]) -> dict[str, str]:
    return {"StripeEventIngress": ingress, **destinations}


@pytest.fixture
def aws(mocked_aws: None, stack_parameters: dict[str, str]) -> StackResources:
    """The stack in this mode: its buses can only be created once Stripe's partner sources exist."""
    return create_aws_resources(template(), prefix="test", parameter_overrides=stack_parameters)


@pytest.fixture
def delivered(stripe_emulator: StripeEmulator) -> Any:
    def wait() -> None:
        assert stripe_emulator.wait_for_deliveries(timeout=10), stripe_emulator.webhook_deliveries()

    return wait


def test_the_first_invoice_is_held_and_finance_told_once_through_eventbridge(
    pipeline: Pipeline, subscribed: dict[str, Any], delivered: Any
) -> None:
    delivered()
    pipeline.process()

    invoice_id = subscribed["first_invoice"]["id"]
    (message,) = pipeline.finance_messages()
    assert message["MessageAttributes"]["event_type"]["Value"] == "invoice.review_requested"
    assert json.loads(message["Message"])["invoice"]["invoice_id"] == invoice_id
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["review_status"], record["first_invoice"]) == ("pending", True)
    created = pipeline.stripe_event("invoice.created", invoice_id)
    assert pipeline.event_status(json.loads(created)["id"]) == "processed"  # stored by its Stripe id, applied


def test_an_event_from_a_foreign_source_is_refused_never_stored_and_not_retried(
    pipeline: Pipeline, aws: StackResources, destinations: dict[str, str]
) -> None:
    forged_detail = {"id": "evt_forged", "object": "event", "type": "invoice.created", "created": 1, "data": {}}
    sqs = boto3.client("sqs")
    for source, account in (
        ("aws.partner/stripe.com/ed_test_someone_else", "123456789012"),
        (destinations["StripePartnerEventSourceName"], "999999999999"),
    ):
        envelope = {"version": "0", "id": "x", "detail-type": "invoice.created", "source": source,
                    "account": account, "time": "2026-12-02T13:00:05Z", "region": AWS_REGION, "resources": [],
                    "detail": forged_detail}  # fmt: skip
        sqs.send_message(QueueUrl=aws["StripeEventsQueue"], MessageBody=json.dumps(envelope))
    pipeline.process()

    table = boto3.resource("dynamodb").Table(aws["StripeEventsTable"])
    assert "Item" not in table.get_item(Key={"event_id": "evt_forged"})
    assert sqs.receive_message(QueueUrl=aws["StripeEventsQueue"]).get("Messages") is None  # acknowledged
    assert pipeline.finance_messages() == []


@pytest.mark.parametrize("ingress", ["both"])
def test_an_event_delivered_by_both_paths_is_applied_once(
    pipeline: Pipeline, subscribed: dict[str, Any], delivered: Any
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    delivered()  # through EventBridge, onto the queue
    pipeline.deliver(pipeline.stripe_event("invoice.created", invoice_id))  # and through the webhook
    pipeline.process()

    (message,) = pipeline.finance_messages()
    assert json.loads(message["Message"])["invoice"]["invoice_id"] == invoice_id
