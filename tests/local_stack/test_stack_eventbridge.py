"""The EventBridge ingress in the local stack (issue 14 §3): the template's partner event bus, rule (SQS target,
retries, dead-letter queue), archive and queue policy created in moto for StripeEventIngress eventbridge or both,
so that an event Stripe puts on its partner event source (PutPartnerEvents) reaches StripeEventsQueue as the
whole EventBridge event, as on AWS (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-saas.html)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from incytes_billing.adapters.eventbridge_archive import EventBridgeArchive
from local_stack.lambda_runtime import LambdaRunner
from local_stack.stack import ensure_partner_event_source, partner_event_sources
from local_stack.template.api import api_routes
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.document import Template
from local_stack.template.intrinsics import StackResources

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE = "aws.partner/stripe.com/ed_test_local"
EVENTBRIDGE = {"StripeEventIngress": "eventbridge", "StripePartnerEventSourceName": SOURCE}
BOTH = {"StripeEventIngress": "both", "StripePartnerEventSourceName": SOURCE}
EVENTBRIDGE_RESOURCES = ("StripePartnerEventBus", "StripeEventsRule", "StripeEventsArchive", "StripeEventsQueuePolicy")


def stack(project_template: Template, session: Any, overrides: dict[str, str]) -> StackResources:
    for source in partner_event_sources(project_template, overrides):
        ensure_partner_event_source(session, source)  # what Stripe's event destination does
    return create_aws_resources(project_template, session_or_clients=session, prefix="t", parameter_overrides=overrides)


def put_partner_event(session: Any, detail_type: str, detail: dict[str, Any], source: str = SOURCE) -> None:
    """What Stripe does with each event of an Amazon EventBridge event destination."""
    answer = session.client("events").put_partner_events(
        Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0


def queued(session: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = session.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_webhook_mode_creates_no_eventbridge_resource(project_template: Template, aws_session: Any) -> None:
    resources = stack(project_template, aws_session, {})
    assert not set(EVENTBRIDGE_RESOURCES) & set(resources)
    assert partner_event_sources(project_template, {}) == []
    attributes = aws_session.client("sqs").get_queue_attributes(
        QueueUrl=resources["StripeEventsQueue"], AttributeNames=["Policy"]
    )
    assert "Policy" not in attributes.get("Attributes", {})


def test_the_bus_needs_the_partner_source_as_on_aws(project_template: Template, aws_session: Any) -> None:
    with pytest.raises(Exception, match=f"Event source {SOURCE} does not exist"):
        create_aws_resources(
            project_template, session_or_clients=aws_session, prefix="t", parameter_overrides=EVENTBRIDGE
        )


@pytest.mark.parametrize("overrides", [EVENTBRIDGE, BOTH], ids=["eventbridge", "both"])
def test_a_partner_event_of_a_handled_type_lands_on_the_processors_queue_as_the_whole_envelope(
    project_template: Template, aws_session: Any, overrides: dict[str, str]
) -> None:
    resources = stack(project_template, aws_session, overrides)
    event = {"id": "evt_1", "object": "event", "type": "invoice.created", "data": {"object": {"id": "in_1"}}}
    put_partner_event(aws_session, "invoice.created", event)
    put_partner_event(aws_session, "charge.succeeded", {**event, "id": "evt_2", "type": "charge.succeeded"})
    (envelope,) = queued(aws_session, resources["StripeEventsQueue"])
    assert (envelope["source"], envelope["detail-type"], envelope["detail"]) == (SOURCE, "invoice.created", event)
    assert {"id", "time", "region", "resources"} <= set(envelope)


def test_the_partner_source_is_created_once(project_template: Template, aws_session: Any) -> None:
    """A source created twice would have moto deliver each event twice."""
    ensure_partner_event_source(aws_session, SOURCE)
    resources = stack(project_template, aws_session, EVENTBRIDGE)
    put_partner_event(aws_session, "customer.deleted", {"id": "evt_3", "type": "customer.deleted"})
    assert [e["detail"]["id"] for e in queued(aws_session, resources["StripeEventsQueue"])] == ["evt_3"]


def test_rule_target_archive_and_queue_policy_are_the_templates(project_template: Template, aws_session: Any) -> None:
    resources = stack(project_template, aws_session, EVENTBRIDGE)
    events = aws_session.client("events")
    bus = resources.attributes["StripePartnerEventBus"]
    assert resources["StripePartnerEventBus"] == SOURCE
    assert [b["Name"] for b in events.list_event_buses(NamePrefix="aws.partner/")["EventBuses"]] == [SOURCE]
    rule = resources["StripeEventsRule"]
    (target,) = events.list_targets_by_rule(Rule=rule, EventBusName=bus["EventsBusName"])["Targets"]
    assert target["Arn"] == resources.attributes["StripeEventsQueue"]["Arn"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": resources.attributes["StripeEventBridgeDeadLetterQueue"]["Arn"]}
    archive = events.describe_archive(ArchiveName=resources["StripeEventsArchive"])
    assert (archive["EventSourceArn"], archive["RetentionDays"]) == (bus["Arn"], 30)
    sqs = aws_session.client("sqs")
    for queue in ("StripeEventsQueue", "StripeEventBridgeDeadLetterQueue"):
        policy = sqs.get_queue_attributes(QueueUrl=resources[queue], AttributeNames=["Policy"])["Attributes"]["Policy"]
        sources = {arn for s in json.loads(policy)["Statement"] for arn in s["Condition"]["ArnEquals"]["aws:SourceArn"]}
        assert sources == {resources.attributes["StripeEventsRule"]["Arn"]}


def test_the_archive_replays_onto_the_bus_the_reconciler_is_told(project_template: Template, aws_session: Any) -> None:
    """The reconciler's STRIPE_EVENT_ARCHIVE_NAMES, through its adapter, replay locally."""
    resources = stack(project_template, aws_session, EVENTBRIDGE)
    runner = LambdaRunner(project_template, PROJECT_ROOT, resources, EVENTBRIDGE)
    environment = runner.functions["ReconcilerFunction"].environment
    before = datetime.now(UTC) - timedelta(minutes=1)
    put_partner_event(aws_session, "invoice.paid", {"id": "evt_4", "type": "invoice.paid"})
    queue = resources["StripeEventsQueue"]
    assert [e["detail"]["id"] for e in queued(aws_session, queue)] == ["evt_4"]
    (archive,) = filter(None, environment["STRIPE_EVENT_ARCHIVE_NAMES"].split(","))  # no thin destination here
    replay = EventBridgeArchive(aws_session.client("events")).replay(
        archive, before, datetime.now(UTC) + timedelta(minutes=1)
    )
    replayed = [e for e in queued(aws_session, queue) if e.get("replay-name") == replay]
    assert [e["detail"]["id"] for e in replayed] == ["evt_4"]


def test_eventbridge_mode_has_no_webhook_function_or_route(project_template: Template, aws_session: Any) -> None:
    resources = stack(project_template, aws_session, EVENTBRIDGE)
    runner = LambdaRunner(project_template, PROJECT_ROOT, resources, EVENTBRIDGE)
    assert "WebhookFunction" not in runner.functions
    assert "WebhookProcessorFunction" in runner.functions
    assert runner.functions["WebhookProcessorFunction"].environment["STRIPE_EVENT_SOURCE_NAMES"] == f"{SOURCE},"
    assert "/stripe/webhook" not in {route.path_template for route in api_routes(project_template, EVENTBRIDGE)}
    assert "WebhookFunction" in LambdaRunner(project_template, PROJECT_ROOT, resources, BOTH).functions
