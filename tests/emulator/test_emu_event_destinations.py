"""Event destinations of type ``amazon_eventbridge`` (https://docs.stripe.com/api/v2/core/event-destinations) and
the events Stripe puts on their partner event source (https://docs.stripe.com/event-destinations/eventbridge).

The AWS side is moto (the ``aws`` fixture: in-process ``mock_aws``), with :func:`moto_partner_events.patch_moto`
so that a partner event bus takes rules and receives what is put on its source, as on AWS. Each delivery test
associates the source as a customer does (an event bus created with the source's name as ``EventSourceName``),
puts a rule on that bus with an SQS queue as target, and reads what the queue got: the EventBridge envelope.

The CRUD test also runs against Stripe's test mode when ``STRIPE_API_KEY`` holds a test key and
``STRIPE_TEST_AWS_ACCOUNT_ID`` names an AWS account of yours (Stripe creates a real partner event source there);
delivery needs the emulator's AWS side.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import stripe
from moto_partner_events import patch_moto

from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.emulator import sdk_models
from tests.emulator.receiver import closed_port_url
from tests.emulator.support import Target, error_of, make_client, unchecked
from tests.support import EMULATOR_API_KEY

ACCOUNT = "123456789012"  # moto's default account: the credentials of the `aws` fixture
REGION = "us-east-1"
ENVELOPE_FIELDS = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(autouse=True, scope="module")
def partner_buses_in_moto() -> None:
    patch_moto()


@dataclass
class Bus:
    """A partner event bus with one rule (every event of the source) feeding an SQS queue."""

    name: str
    queue_url: str

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def associate(source: str, queue_name: str = "stripe-events") -> Bus:
    """What the customer does in AWS: the event bus of the partner source, a rule on it, an SQS target."""
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=source, EventSourceName=source)
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [{"prefix": "aws.partner/stripe.com/"}]}
    events.put_rule(Name="stripe-events", EventBusName=source, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="stripe-events", EventBusName=source, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return Bus(source, queue_url)


def create_destination(client: stripe.StripeClient, account: str = ACCOUNT, **params: Any) -> Any:
    params.setdefault("name", "incytes-billing")
    params.setdefault("type", "amazon_eventbridge")
    params.setdefault("event_payload", "snapshot")
    params.setdefault("enabled_events", ["customer.created"])
    params.setdefault("amazon_eventbridge", {"aws_account_id": account, "aws_region": REGION})
    return client.v2.core.event_destinations.create(params)  # type: ignore[arg-type]


def source_of(destination: Any) -> str:
    return f"aws.partner/stripe.com/{destination.id}"


def source_status(destination: Any) -> str:
    status: str = destination.amazon_eventbridge.aws_event_source_status
    return status


def wait_idle(emulator: StripeEmulator) -> None:
    assert emulator.wait_for_deliveries(timeout=10), emulator.webhook_deliveries()


@pytest.fixture
def eventbridge(aws: StackResources, emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> Iterator[None]:
    """moto and a freshly reset emulator: the emulator's AWS calls go to this test's moto."""
    yield
    emulator.reset()  # nothing queued for a moto that is gone


# --- the destination (emulator and Stripe) ----------------------------------------------------------------


@pytest.fixture
def aws_account(target: Target, request: pytest.FixtureRequest) -> str:
    """The AWS account the destination names: moto's (emulator), or yours (Stripe creates a source there)."""
    if target.is_emulator:
        request.getfixturevalue("eventbridge")
        return ACCOUNT
    account = os.environ.get("STRIPE_TEST_AWS_ACCOUNT_ID", "")
    if not account:
        pytest.skip("STRIPE_TEST_AWS_ACCOUNT_ID names no AWS account for Stripe's partner event source")
    return account


def test_event_destination_crud(client: stripe.StripeClient, target: Target, aws_account: str, uid: str) -> None:
    """Create answers the destination with its partner event source ``aws.partner/stripe.com/<id>`` (ARN without
    account) ``pending``; retrieve and list answer it; update changes name, description, events and metadata;
    disable / enable set ``status`` (disabled: ``status_details.disabled.reason = "user"``); delete answers the
    deleted object's id and the destination is then unknown
    (https://docs.stripe.com/api/v2/core/event-destinations, object:
    https://docs.stripe.com/api/v2/core/event-destinations/object, lifecycle:
    https://docs.stripe.com/event-destinations/eventbridge)."""
    events = client.v2.core.event_destinations
    created = create_destination(client, aws_account, name=uid, description="billing events", metadata={"k": "v"})
    assert created.object == "v2.core.event_destination"
    assert sdk_models.check(created.to_dict()) == []  # every field as stripe-python's EventDestination declares it
    assert created.id.startswith("ed_test_")
    assert (created.type, created.event_payload, created.status) == ("amazon_eventbridge", "snapshot", "enabled")
    assert created.enabled_events == ["customer.created"]
    assert created.events_from == ["@self"]
    assert created.snapshot_api_version
    assert RFC3339.match(created.created)
    assert RFC3339.match(created.updated)
    bridge = created.amazon_eventbridge
    assert bridge is not None
    assert bridge.aws_account_id == aws_account
    assert bridge.aws_event_source_arn == f"arn:aws:events:{REGION}::event-source/{source_of(created)}"
    assert bridge.aws_event_source_status == "pending"
    try:
        assert events.retrieve(created.id).name == uid
        assert created.id in [destination.id for destination in events.list({"limit": 100}).data]
        updated = events.update(
            created.id,
            {
                "name": f"{uid}-2",
                "description": "renamed",
                "enabled_events": ["customer.created", "invoice.created"],
                "metadata": {"k": None, "j": "w"},
            },
        )
        assert (updated.name, updated.description) == (f"{uid}-2", "renamed")
        assert updated.enabled_events == ["customer.created", "invoice.created"]
        assert updated.metadata is not None
        assert updated.metadata.to_dict() == {"j": "w"}
        disabled = events.disable(created.id)
        assert sdk_models.check(disabled.to_dict()) == []
        assert disabled.status == "disabled"
        assert disabled.status_details is not None
        assert disabled.status_details.disabled is not None
        assert disabled.status_details.disabled.reason == "user"
        enabled = events.enable(created.id)
        assert (enabled.status, enabled.status_details) == ("enabled", None)
    finally:
        deleted = events.delete(created.id)
    assert deleted.id == created.id
    with pytest.raises(stripe.StripeError) as missing:
        events.retrieve(created.id)
    assert missing.value.http_status == 404


def test_thin_destination(client: stripe.StripeClient, target: Target, aws_account: str, uid: str) -> None:
    """A thin destination takes thin event types and has no ``snapshot_api_version``
    (https://docs.stripe.com/api/v2/core/event-destinations/create: "do not provide this for thin events")."""
    created = create_destination(
        client,
        aws_account,
        name=uid,
        event_payload="thin",
        enabled_events=["v1.billing.meter.error_report_triggered"],
    )
    try:
        assert (created.event_payload, created.snapshot_api_version) == ("thin", None)
        assert created.enabled_events == ["v1.billing.meter.error_report_triggered"]
    finally:
        client.v2.core.event_destinations.delete(created.id)


# --- the emulator's checks and its AWS side -----------------------------------------------------------------


@pytest.mark.usefixtures("eventbridge")
def test_create_refuses_what_stripe_documents_against(emulator_client: stripe.StripeClient) -> None:
    """Emulator: a payload's events only (thin types for thin), no ``snapshot_api_version`` on thin, the AWS
    account and region required (https://docs.stripe.com/api/v2/core/event-destinations/create); types other
    than ``amazon_eventbridge`` are not modeled and say so."""
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"event_payload": "thin", "enabled_events": ["customer.created"]}, "enabled_events"),
        (
            {
                "event_payload": "thin",
                "enabled_events": ["v1.billing.meter.error_report_triggered"],
                "snapshot_api_version": "2026-10-28.endive",
            },
            "snapshot_api_version",
        ),
        (
            {"amazon_eventbridge": {"aws_account_id": "12345", "aws_region": REGION}},
            "amazon_eventbridge[aws_account_id]",
        ),
        ({"amazon_eventbridge": {"aws_account_id": ACCOUNT}}, "amazon_eventbridge[aws_region]"),
        ({"enabled_events": ["no.such.event"]}, "enabled_events[0]"),
    ]
    for params, param in refusals:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            create_destination(emulator_client, **unchecked(params))
        assert error_of(refused.value).get("param") == param, params
    with pytest.raises(stripe.InvalidRequestError) as unmodeled:
        create_destination(emulator_client, type="webhook_endpoint", webhook_endpoint={"url": "https://example.com"})
    assert error_of(unmodeled.value)["code"] == "emulator_unsupported_parameter"
    assert emulator_client.v2.core.event_destinations.list().data == []


@pytest.mark.usefixtures("eventbridge")
def test_the_partner_event_source_is_pending_until_a_bus_is_associated(emulator_client: stripe.StripeClient) -> None:
    """Emulator: create makes the partner event source in the AWS account and region given ("Stripe creates a
    partner event source in the AWS account and region you provided"); it is ``pending`` until the customer
    associates it with an event bus, then ``active``; delete deletes it
    (https://docs.stripe.com/event-destinations/eventbridge)."""
    destination = create_destination(emulator_client)
    source = source_of(destination)
    events = boto3.client("events", region_name=REGION)
    assert events.describe_event_source(Name=source)["Name"] == source  # the customer's side sees it
    destinations = emulator_client.v2.core.event_destinations
    assert source_status(destinations.retrieve(destination.id)) == "pending"
    events.create_event_bus(Name=source, EventSourceName=source)
    listed = [(item.id, source_status(item)) for item in destinations.list().data]
    assert listed == [(destination.id, "active")]
    destinations.delete(destination.id)
    assert events.describe_event_source(Name=source)["State"] == "DELETED"


@pytest.mark.usefixtures("eventbridge")
def test_a_source_not_associated_within_7_days_is_deleted_and_the_destination_disabled(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator: "associate this event source with an event bus within 7 days of the event destination's
    creation. If you don't associate it within this time frame, Amazon automatically deletes the pending event
    source. After an event source is deleted, your Stripe event destination is automatically disabled"
    (https://docs.stripe.com/event-destinations/eventbridge; reason ``no_aws_event_source_exists``: the SDK's
    ``EventDestination.StatusDetails.Disabled``). An associated one is left alone."""
    forgotten = create_destination(emulator_client, name="forgotten")
    associated = create_destination(emulator_client, name="associated")
    associate(source_of(associated))
    emulator.advance_clock(7 * 86_400 - 60)
    assert source_status(emulator_client.v2.core.event_destinations.retrieve(forgotten.id)) == "pending"
    emulator.advance_clock(120)
    expired = emulator_client.v2.core.event_destinations.retrieve(forgotten.id)
    assert (expired.status, source_status(expired)) == ("disabled", "deleted")
    assert expired.status_details is not None
    assert expired.status_details.disabled is not None
    assert expired.status_details.disabled.reason == "no_aws_event_source_exists"
    events = boto3.client("events", region_name=REGION)
    assert events.describe_event_source(Name=source_of(forgotten))["State"] == "DELETED"
    kept = emulator_client.v2.core.event_destinations.retrieve(associated.id)
    assert (kept.status, source_status(kept)) == ("enabled", "active")


def test_create_fails_loudly_when_aws_cannot_be_reached(aws: StackResources) -> None:
    """Emulator: without its partner event source a destination would never receive anything, so create answers
    a 500 naming the AWS endpoint to check, and nothing is created (the emulator's choice: Stripe's own AWS is
    always there)."""
    with StripeEmulator(aws_endpoint_url=closed_port_url().rsplit("/stripe", 1)[0]) as unreachable:
        client = make_client(EMULATOR_API_KEY, unreachable.url)
        with pytest.raises(stripe.APIError) as failed:
            create_destination(client)
        assert "aws_endpoint_url" in str(failed.value.user_message)
        assert client.v2.core.event_destinations.list().data == []


def test_moto_delivers_partner_events_to_the_associated_bus(aws: StackResources) -> None:
    """moto, patched (devtools/moto_partner_events.py): an event put with ``PutPartnerEvents`` reaches a rule on the
    partner event bus and its SQS target, with AWS's envelope; before association it is accepted and dropped
    (https://docs.aws.amazon.com/eventbridge/latest/onboarding/AWS_EventBridge_Partner_Onboarding_FAQ.html,
    envelope: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html)."""
    source = "aws.partner/stripe.com/ed_test_61Moto"
    events = boto3.client("events", region_name=REGION)
    events.create_partner_event_source(Name=source, Account=ACCOUNT)
    entry: Any = {
        "Source": source,
        "DetailType": "customer.created",
        "Detail": json.dumps({"id": "evt_1"}),
        "Resources": ["arn:x"],
    }
    assert events.put_partner_events(Entries=[entry])["FailedEntryCount"] == 0  # pending: accepted, not delivered
    bus = associate(source)
    entry["Detail"] = json.dumps({"id": "evt_2"})
    events.put_partner_events(Entries=[entry])
    [message] = bus.messages()
    assert list(message) == ENVELOPE_FIELDS
    assert (message["source"], message["detail-type"], message["account"], message["region"]) == (
        source,
        "customer.created",
        ACCOUNT,
        REGION,
    )
    assert (message["resources"], message["detail"]) == (["arn:x"], {"id": "evt_2"})


# --- delivery (emulator) ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("eventbridge")
def test_a_snapshot_event_arrives_in_its_envelope(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator: each event the destination takes is put on its partner source; EventBridge hands the rule's
    target ``source`` = the partner source name, ``detail-type`` = the event type, ``detail`` = the whole event
    (as a webhook body, ``api_version`` the destination's), ``resources`` = [the source's ARN], ``account`` and
    ``region`` of the destination (https://docs.stripe.com/event-destinations/eventbridge; the SDK unwraps
    ``detail``: https://docs.stripe.com/event-destinations/eventbridge#event-structure)."""
    destination = create_destination(emulator_client, enabled_events=["customer.created"])
    bus = associate(source_of(destination))
    customer = emulator_client.v1.customers.create({"name": "Acme"})
    emulator_client.v1.customers.update(customer.id, {"name": "Acme 2"})  # customer.updated: not enabled
    wait_idle(emulator)
    [recorded] = emulator.events("customer.created")
    [message] = bus.messages()
    assert list(message) == ENVELOPE_FIELDS
    assert message["version"] == "0"
    assert message["source"] == source_of(destination)
    assert message["detail-type"] == "customer.created"
    assert (message["account"], message["region"]) == (ACCOUNT, REGION)
    assert message["resources"] == [f"arn:aws:events:{REGION}::event-source/{source_of(destination)}"]
    assert TIME.match(message["time"])
    assert message["detail"] == {**recorded, "api_version": destination.snapshot_api_version}
    event = emulator_client.construct_event_without_verification(json.dumps(message))
    assert (event.id, event.type, event.data.object["id"]) == (recorded["id"], "customer.created", customer.id)
    [attempt] = emulator.webhook_deliveries()
    assert (attempt["endpoint"], attempt["url"], attempt["status"], attempt["delivered"]) == (
        destination.id,
        destination.amazon_eventbridge.aws_event_source_arn,
        200,
        True,
    )


@pytest.mark.usefixtures("eventbridge")
def test_a_thin_event_arrives_as_its_notification(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator: a thin destination gets the thin event's notification as ``detail`` (``v2.core.event`` without
    ``data``), ``detail-type`` its type (https://docs.stripe.com/event-destinations/eventbridge,
    https://docs.stripe.com/api/v2/core/events/object); ``parse_event_notification_without_verification`` reads
    the envelope."""
    destination = create_destination(
        emulator_client, event_payload="thin", enabled_events=["v1.billing.meter.error_report_triggered"]
    )
    bus = associate(source_of(destination))
    meter = emulator_client.v1.billing.meters.create(
        {"display_name": "cases", "event_name": "cases", "default_aggregation": {"formula": "sum"}}
    )
    emulator_client.v1.billing.meter_events.create(
        {"event_name": "cases", "payload": {"stripe_customer_id": "cus_DoesNotExist0", "value": "1"}}
    )
    [report] = emulator.thin_events("v1.billing.meter.error_report_triggered")  # processing the meter event
    wait_idle(emulator)
    [message] = bus.messages()
    assert list(message) == ENVELOPE_FIELDS
    assert (message["source"], message["detail-type"]) == (source_of(destination), report["type"])
    assert "data" not in message["detail"]
    assert message["detail"] == {key: value for key, value in report.items() if key not in ("data", "changes")}
    assert message["detail"]["related_object"]["id"] == meter.id
    notification = emulator_client.parse_event_notification_without_verification(json.dumps(message))
    assert (notification.id, notification.type) == (report["id"], "v1.billing.meter.error_report_triggered")


@pytest.mark.usefixtures("eventbridge")
def test_nothing_is_delivered_before_association(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Emulator: "You won't receive any event data in your Amazon EventBridge until you complete each step"
    (https://docs.stripe.com/event-destinations/eventbridge): an event recorded while the source is pending is
    not put (nor retried, nor kept for later); once associated, the next events arrive."""
    destination = create_destination(emulator_client)
    emulator_client.v1.customers.create({"name": "Before"})
    wait_idle(emulator)
    [skipped] = emulator.webhook_deliveries()
    assert not skipped["delivered"]
    assert skipped["next_retry_in"] is None
    assert "pending" in skipped["error"]
    bus = associate(source_of(destination))
    after = emulator_client.v1.customers.create({"name": "After"})
    wait_idle(emulator)
    assert [message["detail"]["data"]["object"]["id"] for message in bus.messages()] == [after.id]


@pytest.mark.usefixtures("eventbridge")
def test_a_disabled_destination_gets_nothing(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator: a disabled destination is sent no events, not even once re-enabled: only events recorded while
    it is enabled (https://docs.stripe.com/api/v2/core/event-destinations/disable; as webhook endpoints,
    https://docs.stripe.com/workbench/webhooks)."""
    destination = create_destination(emulator_client)
    bus = associate(source_of(destination))
    emulator_client.v2.core.event_destinations.disable(destination.id)
    emulator_client.v1.customers.create({"name": "While disabled"})
    wait_idle(emulator)
    assert emulator.webhook_deliveries() == []
    assert bus.messages() == []
    emulator_client.v2.core.event_destinations.enable(destination.id)
    enabled = emulator_client.v1.customers.create({"name": "Enabled again"})
    wait_idle(emulator)
    assert [message["detail"]["data"]["object"]["id"] for message in bus.messages()] == [enabled.id]
