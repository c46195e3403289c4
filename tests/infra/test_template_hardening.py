"""template.yaml's production hardening (issue 11 §2 floods, §4 alarms, §5 data), asserted from the template itself.

The tests iterate over the template's resources: a function, table, queue or schedule added later without its
protections fails here, by name.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from incytes_billing.errors import InvalidSignature
from incytes_billing.models.usage import MAX_BATCH_RECORDS, BatchUsageInput, UsageBatchRequest
from local_stack.template.document import TemplateError
from local_stack.template.functions import FUNCTION_TYPE, function_properties
from local_stack.template.intrinsics import StackResources, resolve_parameters, resolver_for
from local_stack.webhook_event import signed
from tests.support import PROJECT_ROOT, Invoke, conditional_items, load_event, template

TEMPLATE = template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
# The existing pattern: an alarm notifies the on-call topic when the stack has one.
NOTIFY_ON_CALL = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
# The account's unreserved pool keeps at least 100; 1,000 is Lambda's default account quota.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
LAMBDA_UNRESERVED_MINIMUM = 100
LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY = 1000


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r for logical_id, r in RESOURCES.items() if r["Type"] == resource_type}


def evaluate(expression: Any, **overrides: str) -> Any:
    """A template expression (a condition, a Rule's assertion) resolved as CloudFormation would, for these
    parameter values (the others at their defaults)."""
    return resolver_for(TEMPLATE, StackResources(), overrides).resolve(expression)


def function_events(event_type: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(function, event id, event properties) of every function event of this type."""
    for logical_id in of_type(FUNCTION_TYPE):
        for event_id, event in (function_properties(TEMPLATE, logical_id).get("Events") or {}).items():
            if event["Type"] == event_type:
                yield logical_id, event_id, event.get("Properties") or {}


def alarms_on(namespace: str, metric: str, dimension: dict[str, Any]) -> list[str]:
    """The alarms watching `metric` of `namespace` with exactly this one dimension (name → template value)."""
    wanted = [{"Name": name, "Value": value} for name, value in dimension.items()]
    return [
        logical_id
        for logical_id, alarm in of_type("AWS::CloudWatch::Alarm").items()
        if (alarm["Properties"]["Namespace"], alarm["Properties"]["MetricName"]) == (namespace, metric)
        and alarm["Properties"].get("Dimensions") == wanted
    ]


def queue_of(arn: Any) -> str:
    """The template queue an ARN expression names (`!GetAtt Queue.Arn`)."""
    assert isinstance(arn, dict), f"{arn!r} is not a template queue's ARN"
    assert "Fn::GetAtt" in arn, f"{arn!r} is not a template queue's ARN"
    queue, attribute = arn["Fn::GetAtt"]
    assert (RESOURCES[queue]["Type"], attribute) == ("AWS::SQS::Queue", "Arn")
    return str(queue)


def dead_letter_queues() -> dict[str, str]:
    """Every queue that receives what failed (dead-letter queue → what sends it there)."""
    found = {}
    for logical_id, queue in of_type("AWS::SQS::Queue").items():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            found[queue_of(redrive["deadLetterTargetArn"])] = f"{logical_id} (redrive)"
    for function, event_id, properties in (*function_events("DynamoDB"), *function_events("SQS")):
        on_failure = (properties.get("DestinationConfig") or {}).get("OnFailure")
        if on_failure:
            found[queue_of(on_failure["Destination"])] = f"{function}.{event_id} (on failure)"
    for function, event_id, properties in function_events("Schedule"):
        if "DeadLetterConfig" in properties:
            found[queue_of(properties["DeadLetterConfig"]["Arn"])] = f"{function}.{event_id} (schedule)"
    for rule_id, rule in of_type("AWS::Events::Rule").items():
        for target in rule["Properties"].get("Targets") or []:
            if "DeadLetterConfig" in target:
                found[queue_of(target["DeadLetterConfig"]["Arn"])] = f"{rule_id}.{target['Id']} (rule target)"
    return found


# -- §5 data survives mistakes ---------------------------------------------------------------------------------


def test_every_table_has_point_in_time_recovery_retain_and_deletion_protection() -> None:
    tables = of_type("AWS::DynamoDB::Table")
    assert {"NotificationsTable", "IdempotencyTable"} <= set(tables)
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert (table.get("DeletionPolicy"), table.get("UpdateReplacePolicy")) == ("Retain", "Retain"), logical_id
        assert properties.get("PointInTimeRecoverySpecification") == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert properties.get("DeletionProtectionEnabled") == {"Fn::If": ["ProtectTables", True, False]}, logical_id


@pytest.mark.parametrize(
    ("overrides", "protected"),
    [
        ({}, False),
        ({"Stage": "prod"}, True),
        ({"Stage": "dev", "TableDeletionProtection": "true"}, True),
        ({"Stage": "prod", "TableDeletionProtection": "false"}, False),
    ],
)
def test_deletion_protection_follows_the_stage_unless_set(overrides: dict[str, str], protected: bool) -> None:
    for logical_id, table in of_type("AWS::DynamoDB::Table").items():
        assert evaluate(table["Properties"]["DeletionProtectionEnabled"], **overrides) is protected, logical_id


def test_every_queue_is_retained() -> None:
    queues = of_type("AWS::SQS::Queue")
    assert {"StripeEventsQueue", "StripeEventsDeadLetterQueue", "UsageReporterDeadLetterQueue"} <= set(queues)
    for logical_id, queue in queues.items():
        assert (queue.get("DeletionPolicy"), queue.get("UpdateReplacePolicy")) == ("Retain", "Retain"), logical_id


# -- §4 alarms reach someone ------------------------------------------------------------------------------------


def test_every_alarm_notifies_on_call_and_tells_it_is_over() -> None:
    for logical_id, alarm in of_type("AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"].get("AlarmActions") == NOTIFY_ON_CALL, logical_id
        assert alarm["Properties"].get("OKActions") == NOTIFY_ON_CALL, logical_id
    topic = "arn:aws:sns:us-east-1:123456789012:on-call"
    assert evaluate({"AlarmActions": NOTIFY_ON_CALL}, AlarmTopicArn=topic) == {"AlarmActions": [topic]}
    assert evaluate({"AlarmActions": NOTIFY_ON_CALL}) == {}  # no topic (dev): no actions, not an empty ARN


def test_every_function_has_an_errors_and_a_throttles_alarm() -> None:
    for function in of_type(FUNCTION_TYPE):
        for metric in ("Errors", "Throttles"):
            assert alarms_on("AWS/Lambda", metric, {"FunctionName": {"Ref": function}}), f"{function}: no {metric}"


def test_api_5xx_alarm_watches_the_stage() -> None:
    # SAM titles the REST API with the stack name: that is the ApiName dimension.
    dimensions = [
        {"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}},
        {"Name": "Stage", "Value": {"Ref": "Stage"}},
    ]
    assert [
        logical_id
        for logical_id, alarm in of_type("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"]["MetricName"] == "5XXError" and alarm["Properties"]["Dimensions"] == dimensions
    ]
    assert RESOURCES["BillingApi"]["Properties"]["StageName"] == {"Ref": "Stage"}


def test_every_dead_letter_queue_has_an_alarm() -> None:
    queues = dead_letter_queues()
    assert {"StripeEventsDeadLetterQueue", "UsageReporterDeadLetterQueue", "ScheduleDeadLetterQueue"} <= set(queues)
    for queue, source in queues.items():
        watching = alarms_on(
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}
        )
        assert watching, f"{queue} ({source}) has no alarm"
        for logical_id in watching:
            assert RESOURCES[logical_id]["Properties"]["Threshold"] == 1, logical_id  # one message is one failure


def test_every_schedule_has_a_dead_letter_queue_eventbridge_may_write_and_a_retry_policy() -> None:
    schedules = list(function_events("Schedule"))
    assert len(schedules) >= 4
    policies = of_type("AWS::SQS::QueuePolicy").values()
    for function, event_id, properties in schedules:
        queue = queue_of((properties.get("DeadLetterConfig") or {}).get("Arn"))
        assert any(
            {"Ref": queue} in policy["Properties"]["Queues"]
            and any(
                statement["Principal"] == {"Service": "events.amazonaws.com"}
                and statement["Action"] == "sqs:SendMessage"
                and statement["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            )
            for policy in policies
        ), f"{function}.{event_id}: EventBridge may not write to {queue}"
        retry = properties.get("RetryPolicy") or {}
        assert 60 <= retry.get("MaximumEventAgeInSeconds", 0) <= 86400, f"{function}.{event_id}"
        assert 0 <= retry.get("MaximumRetryAttempts", -1) <= 185, f"{function}.{event_id}"


def test_rejected_signatures_alarm_on_a_sustained_rate() -> None:
    (logical_id,) = alarms_on(
        "InCytesBilling", f"WebhookRejected_{InvalidSignature.code}", {"service": "incytes-billing"}
    )
    properties = RESOURCES[logical_id]["Properties"]
    # Not one forged delivery: most periods of an hour or so (a bad rotation rejects every delivery and retry).
    assert properties["EvaluationPeriods"] * properties["Period"] >= 3600
    assert properties["DatapointsToAlarm"] > properties["EvaluationPeriods"] // 2


def test_the_webhook_emits_the_metric_its_alarm_watches(invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    (logical_id,) = alarms_on("InCytesBilling", "WebhookRejected_invalid_signature", {"service": "incytes-billing"})
    alarm = RESOURCES[logical_id]["Properties"]
    capsys.readouterr()
    response = invoke("WebhookFunction", signed(load_event("webhook/invoice_created.json"), "whsec_attacker"))
    assert response["statusCode"] == 400
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(
        directive["Namespace"] == alarm["Namespace"]
        and {"Name": alarm["MetricName"], "Unit": "Count"} in directive["Metrics"]
        and ["service"] in directive["Dimensions"]
        and record["service"] == alarm["Dimensions"][0]["Value"]
        for record in emitted
        for directive in record["_aws"]["CloudWatchMetrics"]
    ), emitted


def test_prod_requires_an_alarm_topic_and_a_finance_email() -> None:
    def failed(**overrides: str) -> list[str]:
        return [
            assertion["AssertDescription"]
            for rule in TEMPLATE["Rules"].values()
            if evaluate(rule.get("RuleCondition", True), **overrides)
            for assertion in rule["Assertions"]
            if not evaluate(assertion["Assert"], **overrides)
        ]

    missing_both = failed(Stage="prod")
    assert len(missing_both) == 2
    assert any("AlarmTopicArn" in text for text in missing_both)
    assert any("FinanceEmail" in text for text in missing_both)
    assert all("samconfig.toml" in text for text in missing_both)  # says what to do
    topic = "arn:aws:sns:us-east-1:123456789012:on-call"
    assert failed(Stage="prod", AlarmTopicArn=topic) == [next(t for t in missing_both if "FinanceEmail" in t)]
    assert failed(Stage="prod", AlarmTopicArn=topic, FinanceEmail="finance@example.com") == []
    assert failed(Stage="dev") == []


def samconfig_overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text())
    pairs = shlex.split(config[environment]["deploy"]["parameters"]["parameter_overrides"])
    return dict(pair.split("=", 1) for pair in pairs)


def test_samconfig_prod_carries_placeholders_that_fail_until_replaced() -> None:
    overrides = samconfig_overrides("prod")
    for name in ("AlarmTopicArn", "FinanceEmail"):
        assert overrides[name].startswith("REPLACE-ME"), name
        with pytest.raises(TemplateError, match=name):
            resolve_parameters(TEMPLATE, {name: overrides[name]})
    real = {"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:on-call", "FinanceEmail": "finance@example.com"}
    assert resolve_parameters(TEMPLATE, {**overrides, **real})["Stage"] == "prod"
    assert "AlarmTopicArn" not in samconfig_overrides("dev")  # dev may go without


# -- §2 nothing can flood the account ----------------------------------------------------------------------------


def number_parameter(value: Any) -> tuple[str, int]:
    """A `!Ref` to a Number parameter, and its default."""
    assert isinstance(value, dict), f"{value!r} is not a template parameter"
    assert set(value) == {"Ref"}, f"{value!r} is not a template parameter"
    spec = TEMPLATE["Parameters"][value["Ref"]]
    assert spec["Type"] == "Number"
    assert spec["MinValue"] >= 1  # 0 would stop the function
    return value["Ref"], int(spec["Default"])


def test_every_request_driven_function_has_reserved_concurrency_and_the_defaults_fit_an_account() -> None:
    """API and queue consumers: a flood elsewhere cannot starve them. The webhook's reservation is its own: the
    most a flood of junk deliveries can take."""
    request_driven = {f for f, _, _ in (*function_events("Api"), *function_events("SQS"))}
    assert {"WebhookFunction", "SubscriptionsFunction", "WebhookProcessorFunction", "InvoicesFunction"} <= (
        request_driven
    )
    reserved = 0
    for logical_id, function in of_type(FUNCTION_TYPE).items():
        value = function["Properties"].get("ReservedConcurrentExecutions")
        if value is None:
            assert logical_id not in request_driven, f"{logical_id} has no reserved concurrency"
            continue
        reserved += value if isinstance(value, int) else number_parameter(value)[1]
    webhook_parameter, _ = number_parameter(RESOURCES["WebhookFunction"]["Properties"]["ReservedConcurrentExecutions"])
    others = [
        function["Properties"].get("ReservedConcurrentExecutions")
        for logical_id, function in of_type(FUNCTION_TYPE).items()
        if logical_id != "WebhookFunction"
    ]
    assert {"Ref": webhook_parameter} not in others
    assert reserved + LAMBDA_UNRESERVED_MINIMUM <= LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY
    deploy_notes = " ".join((PROJECT_ROOT / "docs" / "production.md").read_text().split())
    assert (
        f"the defaults reserve {reserved}, so the account's concurrency quota must be at least "
        f"{reserved + LAMBDA_UNRESERVED_MINIMUM}"
    ) in deploy_notes


def test_queue_pollers_stay_within_their_reservation() -> None:
    """A throttled SQS batch goes back to the queue and counts towards its dead-letter queue."""
    for function, event_id, properties in function_events("SQS"):
        reservation = RESOURCES[function]["Properties"]["ReservedConcurrentExecutions"]
        maximum = (properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
        assert maximum == reservation, f"{function}.{event_id}"
        assert number_parameter(maximum)[1] >= 2  # SQS's minimum MaximumConcurrency


def method_throttling() -> dict[tuple[str, str], dict[str, Any]]:
    """BillingApi's MethodSettings by (resource path, HTTP method), as API Gateway writes them."""
    settings = conditional_items(TEMPLATE, RESOURCES["BillingApi"]["Properties"]["MethodSettings"])
    return {(s["ResourcePath"], s["HttpMethod"]): s for s in settings}


def method_path(route: dict[str, Any]) -> tuple[str, str]:
    # API Gateway writes each "/" of a method's path as "~1".
    return "/" + route["Path"].replace("/", "~1"), route["Method"].upper()


def test_stage_throttling_and_the_public_routes_own_limits() -> None:
    by_method = method_throttling()
    default = by_method[("/*", "*")]
    number_parameter(default["ThrottlingRateLimit"])
    number_parameter(default["ThrottlingBurstLimit"])
    public = [(f, p) for f, _, p in function_events("Api") if (p.get("Auth") or {}).get("Authorizer") == "NONE"]
    assert "WebhookFunction" in [f for f, _ in public]
    for function, route in public:
        own = by_method.get(method_path(route))
        assert own is not None, f"{function}: {route['Path']} has no throttling of its own"
        number_parameter(own["ThrottlingRateLimit"])
        number_parameter(own["ThrottlingBurstLimit"])


def test_a_burst_api_gateway_admits_finds_executions_free() -> None:
    """A throttled function reaches the client as a 500: API Gateway's 429 must come first, for a burst at least."""
    by_method = method_throttling()
    for function, event_id, route in function_events("Api"):
        setting = by_method.get(method_path(route), by_method[("/*", "*")])
        _, burst = number_parameter(setting["ThrottlingBurstLimit"])
        _, reserved = number_parameter(RESOURCES[function]["Properties"]["ReservedConcurrentExecutions"])
        assert burst <= reserved, f"{function}.{event_id}: a burst of {burst} for {reserved} executions"


def test_waf_resources_exist_only_when_enabled() -> None:
    waf = {lid: r for lid, r in RESOURCES.items() if r["Type"].startswith("AWS::WAFv2::")}
    assert set(waf) == {"BillingApiWebAcl", "BillingApiWebAclAssociation"}
    for logical_id, resource in waf.items():
        assert resource.get("Condition") == "HasWaf", logical_id
    assert evaluate({"Condition": "HasWaf"}) is False
    assert evaluate({"Condition": "HasWaf"}, WafEnabled="true") is True
    association = RESOURCES["BillingApiWebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["BillingApiWebAcl", "Arn"]}
    # SAM's generated stage, named through BillingApi.Stage: the association waits for it.
    assert association["ResourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${BillingApi}/stages/${BillingApi.Stage}"
    }


def waf_rule(statement_type: str) -> dict[str, Any]:
    rules = RESOURCES["BillingApiWebAcl"]["Properties"]["Rules"]

    def statements(statement: dict[str, Any]) -> Iterator[str]:
        for kind, body in statement.items():
            yield kind
            for nested in body.get("Statements", []) + ([body["Statement"]] if "Statement" in body else []):
                yield from statements(nested)

    (rule,) = [r for r in rules if statement_type in statements(r["Statement"])]
    assert rule["Action"] == {"Block": {}}
    return rule


def test_waf_blocks_a_flood_from_one_address() -> None:
    acl = RESOURCES["BillingApiWebAcl"]["Properties"]
    assert (acl["Scope"], acl["DefaultAction"]) == ("REGIONAL", {"Allow": {}})
    rate = waf_rule("RateBasedStatement")["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    number_parameter(rate["Limit"])


def test_waf_body_limit_admits_the_largest_valid_usage_batch_and_spares_the_webhook() -> None:
    acl = RESOURCES["BillingApiWebAcl"]["Properties"]
    rule = waf_rule("SizeConstraintStatement")
    size, webhook_exception = rule["Statement"]["AndStatement"]["Statements"]
    constraint = size["SizeConstraintStatement"]
    assert (constraint["FieldToMatch"], constraint["ComparisonOperator"]) == (
        {"Body": {"OversizeHandling": "MATCH"}},
        "GT",
    )
    # WAF sees at most the association's inspection limit of a body: the rule must not ask for more.
    inspected = acl["AssociationConfig"]["RequestBody"]["API_GATEWAY"]["DefaultSizeInspectionLimit"]
    assert constraint["Size"] <= int(inspected.removeprefix("KB_")) * 1024
    largest = {
        "records": [
            {
                "funder_id": "F" * 128,
                "usage_id": f"{n:0128d}",
                "kind": "case",
                "quantity": 100_000,
                "occurred_at": "2026-12-02T07:16:53.123456+00:00",
            }
            for n in range(MAX_BATCH_RECORDS)
        ]
    }
    for record in UsageBatchRequest.model_validate(largest).records:
        BatchUsageInput.model_validate(record)
    assert len(json.dumps(largest, indent=2).encode()) < constraint["Size"]
    # Stripe's events are not bounded by it: the webhook is left out of the rule.
    match = webhook_exception["NotStatement"]["Statement"]["ByteMatchStatement"]
    ((_, _, route),) = [(f, e, p) for f, e, p in function_events("Api") if f == "WebhookFunction"]
    assert (match["FieldToMatch"], match["PositionalConstraint"], match["SearchString"]) == (
        {"UriPath": {}},
        "ENDS_WITH",
        route["Path"],
    )
