"""The Stripe event ingress chosen at deploy (issue 14 §1): StripeEventIngress webhook, eventbridge or both, and
what each mode deploys, asserted from template.yaml with the local stack's condition resolution.

Stripe's envelope on EventBridge: `source` is the partner event source (aws.partner/stripe.com/ed_...),
`detail-type` the Stripe event type, `detail` the event (https://docs.stripe.com/event-destinations/eventbridge).
"""

from __future__ import annotations

from typing import Any

import pytest

from incytes_billing.domain.event_processor import APPLIED_EVENTS
from incytes_billing.domain.meter_errors import METER_ERROR_EVENTS
from local_stack.template.api import api_routes
from local_stack.template.functions import function_environment
from local_stack.template.intrinsics import StackResources, failed_rule_assertions, resolver_for
from tests.iam_grants import granted_permissions
from tests.support import conditional_items, template

TEMPLATE = template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
SOURCE = "aws.partner/stripe.com/ed_test_61Tgbw4tExample"
THIN_SOURCE = "aws.partner/stripe.com/ed_test_61ThinExample"
SOURCES = {"StripePartnerEventSourceName": SOURCE, "StripeThinEventSourceName": THIN_SOURCE}
MODES: dict[str, dict[str, str]] = {
    "webhook": {},
    "eventbridge": {"StripeEventIngress": "eventbridge", **SOURCES},
    "both": {"StripeEventIngress": "both", **SOURCES},
}
WEBHOOK_RESOURCES = {
    "WebhookFunction",
    "WebhookFunctionErrorsAlarm",
    "WebhookFunctionThrottlesAlarm",
    "WebhookRejectedSignaturesAlarm",
}
EVENTBRIDGE_RESOURCES = {
    "StripePartnerEventBus",
    "StripeEventsRule",
    "StripeEventBridgeDeadLetterQueue",
    "StripeEventBridgeDeadLetterAlarm",
    "StripeEventsQueuePolicy",
    "StripeEventsArchive",
    "StripeThinEventBus",
    "StripeThinEventsRule",
    "StripeThinEventsArchive",
}
# What WebhookProcessorFunction applies: snapshot events it has a handler for (one destination, one bus), and the
# thin meter error reports (another).
RULES = {
    "StripeEventsRule": (
        "StripePartnerEventBus",
        "StripeEventsArchive",
        "StripePartnerEventSourceName",
        APPLIED_EVENTS,
    ),
    "StripeThinEventsRule": (
        "StripeThinEventBus",
        "StripeThinEventsArchive",
        "StripeThinEventSourceName",
        METER_ERROR_EVENTS,
    ),
}


def deployed(mode: str) -> set[str]:
    resolver = resolver_for(TEMPLATE, StackResources(), MODES[mode])
    return {logical_id for logical_id in RESOURCES if resolver.resource_enabled(logical_id)}


@pytest.mark.parametrize(
    ("mode", "webhook", "eventbridge"), [("webhook", True, False), ("eventbridge", False, True), ("both", True, True)]
)
def test_each_mode_deploys_its_ingress_and_only_it(mode: str, webhook: bool, eventbridge: bool) -> None:
    resources = deployed(mode)
    assert resources & WEBHOOK_RESOURCES == (WEBHOOK_RESOURCES if webhook else set())
    assert resources & EVENTBRIDGE_RESOURCES == (EVENTBRIDGE_RESOURCES if eventbridge else set())
    # The processor and its queue serve both paths.
    assert {"WebhookProcessorFunction", "StripeEventsQueue", "StripeEventsTable"} <= resources
    webhook_url = TEMPLATE["Outputs"]["StripeWebhookUrl"]
    assert resolver_for(TEMPLATE, StackResources(), MODES[mode]).condition(webhook_url["Condition"]) is webhook


def test_webhook_is_the_default() -> None:
    assert TEMPLATE["Parameters"]["StripeEventIngress"]["Default"] == "webhook"
    assert TEMPLATE["Parameters"]["StripePartnerEventSourceName"]["Default"] == ""


def test_eventbridge_without_a_partner_source_is_refused_before_anything_is_created() -> None:
    for ingress in ("eventbridge", "both"):
        (refused,) = failed_rule_assertions(TEMPLATE, {"StripeEventIngress": ingress})
        assert "StripePartnerEventSourceName" in refused
        assert "aws.partner/stripe.com/ed_" in refused  # and where to find it
    for mode in MODES.values():
        assert failed_rule_assertions(TEMPLATE, mode) == []


def test_eventbridge_mode_has_no_public_route() -> None:
    api = RESOURCES["BillingApi"]["Properties"]
    for mode, overrides in MODES.items():
        public = mode != "eventbridge"
        statements = conditional_items(TEMPLATE, api["Auth"]["ResourcePolicy"]["CustomStatements"], overrides)
        assert any(s["Principal"] == "*" for s in statements) is public, mode
        settings = conditional_items(TEMPLATE, api["MethodSettings"], overrides)
        assert any(s["ResourcePath"] == "/~1stripe~1webhook" for s in settings) is public, mode
        routes = api_routes(TEMPLATE, overrides)
        assert any(r.path_template == "/stripe/webhook" for r in routes) is public, mode
        assert all(r.auth == "AWS_IAM" for r in routes if r.path_template != "/stripe/webhook"), mode


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_each_bus_associates_its_partner_source(rule_id: str) -> None:
    bus_id, _, source, _ = RULES[rule_id]
    bus = RESOURCES[bus_id]["Properties"]
    assert bus["Name"] == bus["EventSourceName"] == {"Ref": source}
    assert RESOURCES[rule_id]["Properties"]["EventBusName"] == {"Ref": bus_id}


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_each_rule_matches_its_partner_source_and_every_type_the_processor_handles_from_it(rule_id: str) -> None:
    """A type the processor learns to handle fails here until the rule (and archive) match it too."""
    bus_id, archive_id, source, handled = RULES[rule_id]
    pattern = RESOURCES[rule_id]["Properties"]["EventPattern"]
    assert set(pattern) == {"source", "detail-type"}
    assert pattern["source"] == [{"Ref": source}]
    assert len(pattern["detail-type"]) == len(set(pattern["detail-type"]))
    assert set(pattern["detail-type"]) == set(handled)
    archive = RESOURCES[archive_id]["Properties"]
    assert archive["EventPattern"] == pattern
    assert archive["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert archive["RetentionDays"] == {"Ref": "StripeEventArchiveRetentionDays"}


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_each_rule_puts_the_whole_event_on_the_processors_queue_with_retries_and_a_dead_letter_queue(
    rule_id: str,
) -> None:
    (target,) = RESOURCES[rule_id]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["StripeEventsQueue", "Arn"]}
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)  # the body is the EventBridge event
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["StripeEventBridgeDeadLetterQueue", "Arn"]}}
    processor_queue = RESOURCES["WebhookProcessorFunction"]["Properties"]["Events"]["StoredEvents"]["Properties"]
    assert processor_queue["Queue"] == target["Arn"]


def test_only_the_rule_may_send_to_its_queues() -> None:
    policy = RESOURCES["StripeEventsQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "StripeEventsQueue"}, {"Ref": "StripeEventBridgeDeadLetterQueue"}]
    statements = policy["PolicyDocument"]["Statement"]
    assert [s["Resource"] for s in statements] == [
        {"Fn::GetAtt": ["StripeEventsQueue", "Arn"]},
        {"Fn::GetAtt": ["StripeEventBridgeDeadLetterQueue", "Arn"]},
    ]
    for statement in statements:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Condition"] == {
            "ArnEquals": {
                "aws:SourceArn": {
                    "Fn::If": [
                        "UsesThinEventBridge",
                        [{"Fn::GetAtt": [rule, "Arn"]} for rule in ("StripeEventsRule", "StripeThinEventsRule")],
                        [{"Fn::GetAtt": ["StripeEventsRule", "Arn"]}],
                    ]
                }
            }
        }
    # A queue policy replaces the queue's policy: no other one may name these queues.
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] == "AWS::SQS::QueuePolicy" and logical_id != "StripeEventsQueuePolicy":
            assert not {"StripeEventsQueue", "StripeEventBridgeDeadLetterQueue"} & {
                q.get("Ref") for q in resource["Properties"]["Queues"]
            }


def test_the_eventbridge_dead_letter_queue_keeps_14_days_encrypted_and_survives_the_stack() -> None:
    queue = RESOURCES["StripeEventBridgeDeadLetterQueue"]
    assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert queue["Properties"] == {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_processor_knows_the_accepted_source_and_account(mode: str) -> None:
    resources = StackResources(account_id="111122223333")
    environment = function_environment(TEMPLATE, "WebhookProcessorFunction", resources, MODES[mode])
    sources = set(filter(None, environment["STRIPE_EVENT_SOURCE_NAMES"].split(",")))
    assert sources == (set() if mode == "webhook" else {SOURCE, THIN_SOURCE})
    assert environment["STRIPE_EVENTS_AWS_ACCOUNT"] == "111122223333"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_reconciler_may_replay_from_the_archive_only_with_eventbridge(mode: str) -> None:
    resources = StackResources(region="eu-west-1", account_id="111122223333", stack_name="billing")
    environment = function_environment(TEMPLATE, "ReconcilerFunction", resources, MODES[mode])
    grants = {
        (g.action, g.resource) for g in granted_permissions(TEMPLATE, "ReconcilerFunction", resources, MODES[mode])
    }
    events_grants = {grant for grant in grants if grant[0].startswith("events:")}
    if mode == "webhook":
        assert environment["STRIPE_EVENT_ARCHIVE_NAMES"] == ""
        assert events_grants == set()
        return
    names = ("billing-StripeEventsArchive", "billing-StripeThinEventsArchive")
    assert environment["STRIPE_EVENT_ARCHIVE_NAMES"].split(",") == list(names)
    archives = [f"arn:aws:events:eu-west-1:111122223333:archive/{name}" for name in names]
    assert events_grants == {
        (action, arn) for action in ("events:DescribeArchive", "events:StartReplay") for arn in archives
    }


def test_without_a_thin_destination_only_the_snapshot_bus_is_made_and_trusted() -> None:
    overrides = {"StripeEventIngress": "eventbridge", "StripePartnerEventSourceName": SOURCE}
    resolver = resolver_for(TEMPLATE, StackResources(), overrides)
    assert resolver.resource_enabled("StripePartnerEventBus")
    assert not resolver.resource_enabled("StripeThinEventBus")
    environment = function_environment(TEMPLATE, "WebhookProcessorFunction", StackResources(), overrides)
    assert set(filter(None, environment["STRIPE_EVENT_SOURCE_NAMES"].split(","))) == {SOURCE}
