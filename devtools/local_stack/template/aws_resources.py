"""The template's DynamoDB tables, SNS topics (and subscriptions), SQS queues (and their policies) and EventBridge
buses, rules and archives, created through whatever boto3 endpoint is configured: moto's in-process `mock_aws` in
tests, moto server in `make local`. Other resource types (functions, layers, APIs, IAM, alarms) are skipped."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.template.document import Template, TemplateError, as_template
from local_stack.template.intrinsics import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    StackResources,
    resolver_for,
    scalar_string,
)

LOG = logging.getLogger(__name__)


SUPPORTED_RESOURCE_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::Serverless::SimpleTable",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::Events::Archive",
)
_SERVICE_OF = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::Serverless::SimpleTable": "dynamodb",
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS::Topic": "sns",
    "AWS::SNS::Subscription": "sns",
    "AWS::SQS::QueuePolicy": "sqs",
    "AWS::Events::EventBus": "events",
    "AWS::Events::Rule": "events",
    "AWS::Events::Archive": "events",
}


@dataclass
class _Clients:
    source: Any
    cache: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        if service not in self.cache:
            if isinstance(self.source, Mapping):
                if service not in self.source:
                    raise TemplateError(f"no boto3 {service} client given to create_aws_resources")
                self.cache[service] = self.source[service]
            elif self.source is None:
                import boto3  # noqa: PLC0415 - only when no session or clients are given

                self.cache[service] = boto3.client(service)  # type: ignore[call-overload]
            else:
                self.cache[service] = self.source.client(service)
        return self.cache[service]

    def region(self) -> str:
        if isinstance(self.source, Mapping):
            for client in self.source.values():
                return str(client.meta.region_name)
            return DEFAULT_REGION
        if self.source is None:
            import boto3  # noqa: PLC0415

            return boto3.session.Session().region_name or DEFAULT_REGION
        return str(self.source.region_name or DEFAULT_REGION)


def create_aws_resources(
    template: Template | str | Path,
    *,
    session_or_clients: Any = None,
    prefix: str,
    parameter_overrides: Mapping[str, Any] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> StackResources:
    """Create the template's tables, topics, subscriptions, queues, queue policies, event buses, rules and archives;
    answer logical id → physical id.

    `session_or_clients` is a `boto3.Session`, a mapping of service name → boto3 client, or None for boto3's
    default clients; whichever endpoint they talk to (moto's `mock_aws`, moto server) gets the resources.
    Physical names are the template's (`TableName`, `QueueName`, `TopicName`) when it sets them, else
    `<prefix>-<LogicalId>` (CloudFormation adds a random suffix; locally names are stable). `prefix` is also
    `AWS::StackName`. Creating what already exists (same name) reuses it. Resources whose `Condition` is false
    are skipped, like CloudFormation does.
    """
    template = as_template(template)
    clients = _Clients(session_or_clients)
    resources = StackResources(region=clients.region(), account_id=account_id, stack_name=prefix)
    resolver = resolver_for(template, resources, parameter_overrides)
    definitions = template["Resources"]
    wanted = [
        logical_id
        for logical_id, resource in definitions.items()
        if (resource or {}).get("Type") in SUPPORTED_RESOURCE_TYPES and resolver.resource_enabled(logical_id)
    ]
    skipped = sorted({str((r or {}).get("Type")) for r in definitions.values()} - set(SUPPORTED_RESOURCE_TYPES))
    LOG.debug("not created locally (types): %s", ", ".join(skipped))
    for logical_id in _creation_order(definitions, wanted):
        resource = definitions[logical_id]
        properties = resolver.resolve(resource.get("Properties") or {})
        creator = _CREATORS[resource["Type"]]
        creator(clients(_SERVICE_OF[resource["Type"]]), resources, logical_id, properties, prefix)
        LOG.debug("created %s %s = %s", resource["Type"], logical_id, resources.get(logical_id))
    return resources


def _references(value: Any) -> Iterator[str]:
    """Logical ids (or parameter names) an expression refers to."""
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                yield argument
            elif key == "Fn::GetAtt":
                target = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
                if isinstance(target, str):
                    yield target
            elif key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) else argument
                if isinstance(text, str):
                    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        yield name.split(".", 1)[0].strip()
                if isinstance(argument, list) and len(argument) > 1:
                    yield from _references(argument[1])
            else:
                yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _creation_order(definitions: Mapping[str, Any], wanted: list[str]) -> list[str]:
    wanted_set = set(wanted)
    depends: dict[str, set[str]] = {}
    for logical_id in wanted:
        resource = definitions[logical_id]
        explicit = resource.get("DependsOn") or []
        explicit = [explicit] if isinstance(explicit, str) else explicit
        refs = set(_references(resource.get("Properties") or {})) | set(explicit)
        depends[logical_id] = (refs & wanted_set) - {logical_id}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(wanted):
        ready = [lid for lid in wanted if lid not in done and depends[lid] <= done]
        if not ready:
            cycle = sorted(set(wanted) - done)
            raise TemplateError(f"circular dependency between {', '.join(cycle)}")
        for logical_id in ready:
            order.append(logical_id)
            done.add(logical_id)
    return order


def _client_error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _create_or_reuse(create: Callable[[], Any], exists_code: str, what: str) -> Any:
    """`create()`'s answer; None when what it creates already exists (the error `exists_code`): reused."""
    try:
        return create()
    except Exception as error:
        if _client_error_code(error) != exists_code:
            raise
        LOG.info("%s already exists: reused", what)
        return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _throughput(value: Any, what: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise TemplateError(f"{what}: ProvisionedThroughput is required with BillingMode PROVISIONED")
    return {
        "ReadCapacityUnits": int(value["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(value["WriteCapacityUnits"]),
    }


def _tags(value: Any) -> list[dict[str, str]]:
    if isinstance(value, dict):  # SAM style: {Key: Value}
        return [{"Key": str(k), "Value": str(v)} for k, v in value.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in value or []]


_TABLE_IGNORED = (
    "ContributorInsightsSpecification",
    "ImportSourceSpecification",
    "KinesisStreamSpecification",
    "OnDemandThroughput",
    "ResourcePolicy",
    "WarmThroughput",
)


def dynamodb_create_table_request(table_name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """`AWS::DynamoDB::Table` Properties → the equivalent boto3 `create_table` keyword arguments."""
    billing_mode = str(properties.get("BillingMode", "PROVISIONED"))
    provisioned = billing_mode == "PROVISIONED"
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": str(a["AttributeName"]), "AttributeType": str(a["AttributeType"])}
            for a in properties["AttributeDefinitions"]
        ],
        "KeySchema": [
            {"AttributeName": str(k["AttributeName"]), "KeyType": str(k["KeyType"])} for k in properties["KeySchema"]
        ],
        "BillingMode": billing_mode,
    }
    if provisioned:
        request["ProvisionedThroughput"] = _throughput(properties.get("ProvisionedThroughput"), table_name)

    def index(spec: Mapping[str, Any], *, global_index: bool) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": str(spec["Projection"].get("ProjectionType", "ALL"))}
        if spec["Projection"].get("NonKeyAttributes"):
            projection["NonKeyAttributes"] = [str(a) for a in spec["Projection"]["NonKeyAttributes"]]
        result: dict[str, Any] = {
            "IndexName": str(spec["IndexName"]),
            "KeySchema": [
                {"AttributeName": str(k["AttributeName"]), "KeyType": str(k["KeyType"])} for k in spec["KeySchema"]
            ],
            "Projection": projection,
        }
        if global_index and provisioned:
            result["ProvisionedThroughput"] = _throughput(spec.get("ProvisionedThroughput"), spec["IndexName"])
        return result

    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [index(s, global_index=True) for s in properties["GlobalSecondaryIndexes"]]
    if properties.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [index(s, global_index=False) for s in properties["LocalSecondaryIndexes"]]
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": str(stream["StreamViewType"])}
    sse = properties.get("SSESpecification")
    if sse:
        spec: dict[str, Any] = {"Enabled": _flag(sse.get("SSEEnabled", False))}
        if sse.get("SSEType"):
            spec["SSEType"] = str(sse["SSEType"])
        if sse.get("KMSMasterKeyId"):
            spec["KMSMasterKeyId"] = str(sse["KMSMasterKeyId"])
        request["SSESpecification"] = spec
    if properties.get("TableClass"):
        request["TableClass"] = str(properties["TableClass"])
    if "DeletionProtectionEnabled" in properties:
        request["DeletionProtectionEnabled"] = _flag(properties["DeletionProtectionEnabled"])
    if properties.get("Tags"):
        request["Tags"] = _tags(properties["Tags"])
    for ignored in _TABLE_IGNORED:
        if ignored in properties:
            LOG.info("table %s: %s is not modelled locally (ignored)", table_name, ignored)
    return request


def _create_dynamodb_table(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    name = str(properties.get("TableName") or f"{prefix}-{logical_id}")
    request = dynamodb_create_table_request(name, properties)
    created = _create_or_reuse(lambda: client.create_table(**request), "ResourceInUseException", f"table {name}")
    # A new table's answer describes it; only one still being created (or reused) is waited for and read.
    table = created["TableDescription"] if created else {}
    if table.get("TableStatus") != "ACTIVE":
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        table = client.describe_table(TableName=name)["Table"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and _flag(ttl.get("Enabled", False)):
        current = {} if created else client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": str(ttl["AttributeName"])},
            )
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr and _flag(pitr.get("PointInTimeRecoveryEnabled", False)):
        try:
            client.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        except Exception as error:  # not essential locally
            LOG.info("table %s: point-in-time recovery not enabled locally (%s)", name, error)
    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    resources.record(logical_id, "AWS::DynamoDB::Table", name, **attributes)


def _create_simple_table(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[str(key.get("Type", "String"))]
    table: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "BillingMode": "PROVISIONED" if properties.get("ProvisionedThroughput") else "PAY_PER_REQUEST",
    }
    for copied in ("TableName", "ProvisionedThroughput", "SSESpecification", "Tags"):
        if properties.get(copied):
            table[copied] = properties[copied]
    _create_dynamodb_table(client, resources, logical_id, table, prefix)
    resources.types[logical_id] = "AWS::Serverless::SimpleTable"


def _attribute_string(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return scalar_string(value, what="attribute")


_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _create_sqs_queue(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    fifo = _flag(properties.get("FifoQueue", False))
    name = str(properties.get("QueueName") or f"{prefix}-{logical_id}{'.fifo' if fifo else ''}")
    attributes = {key: _attribute_string(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
    if fifo:
        attributes["FifoQueue"] = "true"
    request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if properties.get("Tags"):
        request["tags"] = {t["Key"]: t["Value"] for t in _tags(properties["Tags"])}
    url = client.create_queue(**request)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resources.record(logical_id, "AWS::SQS::Queue", url, Arn=arn, QueueName=name, QueueUrl=url)


_TOPIC_ATTRIBUTES = (
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DisplayName",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)
_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def _subscribe(client: Any, topic_arn: str, properties: Mapping[str, Any]) -> str | None:
    endpoint, protocol = properties.get("Endpoint"), str(properties["Protocol"])
    if not endpoint:
        LOG.info("SNS %s subscription to %s has no endpoint: skipped", protocol, topic_arn)
        return None
    attributes = {key: _attribute_string(properties[key]) for key in _SUBSCRIPTION_ATTRIBUTES if key in properties}
    response = client.subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=str(endpoint),
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


def _create_sns_topic(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    fifo = _flag(properties.get("FifoTopic", False))
    name = str(properties.get("TopicName") or f"{prefix}-{logical_id}{'.fifo' if fifo else ''}")
    attributes = {key: _attribute_string(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties}
    if fifo:
        attributes["FifoTopic"] = "true"
    request: dict[str, Any] = {"Name": name, "Attributes": attributes}
    if properties.get("Tags"):
        request["Tags"] = _tags(properties["Tags"])
    arn = str(client.create_topic(**request)["TopicArn"])
    for subscription in properties.get("Subscription") or []:
        _subscribe(client, arn, subscription)
    resources.record(logical_id, "AWS::SNS::Topic", arn, TopicArn=arn, TopicName=name)


def _create_sns_subscription(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    arn = _subscribe(client, str(properties["TopicArn"]), properties)
    if arn is not None:
        resources.record(logical_id, "AWS::SNS::Subscription", arn, Arn=arn)


def _apply_queue_policy(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    """A queue policy is the queues' `Policy` attribute (moto keeps it; it does not enforce it)."""
    policy = json.dumps(properties["PolicyDocument"])
    for queue_url in properties["Queues"]:
        client.set_queue_attributes(QueueUrl=str(queue_url), Attributes={"Policy": policy})
    resources.record(logical_id, "AWS::SQS::QueuePolicy", f"{prefix}-{logical_id}")


def _create_event_bus(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    """A bus; with `EventSourceName` the one that associates a partner event source (which must exist, as on AWS).

    moto 5.2 cannot address a bus whose name has a "/" (every partner bus) in its rule and archive calls, and puts
    partner events on the default bus. Where that is so, the bus's rules, archive and replays go to the default
    bus, where its events are: `EventsBusName` and `Arn` say which bus that is, locally."""
    name = str(properties.get("Name") or f"{prefix}-{logical_id}")
    request = {"Name": name}
    if properties.get("EventSourceName"):
        request["EventSourceName"] = str(properties["EventSourceName"])
    _create_or_reuse(lambda: client.create_event_bus(**request), "ResourceAlreadyExistsException", f"event bus {name}")
    events_bus = name
    try:
        client.list_rules(EventBusName=name)
    except Exception as error:
        if _client_error_code(error) != "ResourceNotFoundException":
            raise
        LOG.info("event bus %s: moto cannot address it; its rules and archive go on the default bus", name)
        events_bus = "default"
    arn = str(client.describe_event_bus(Name=events_bus)["Arn"])
    resources.record(logical_id, "AWS::Events::EventBus", name, Arn=arn, Name=name, EventsBusName=events_bus)


def _events_bus(resources: StackResources, bus_name: str) -> str:
    """Where, locally, a template bus's rules go (see `_create_event_bus`)."""
    for logical_id, resource_type in resources.types.items():
        if resource_type == "AWS::Events::EventBus" and resources[logical_id] == bus_name:
            return resources.attributes[logical_id]["EventsBusName"]
    return bus_name


_TARGET_FIELDS = (
    "Id",
    "Arn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
    "SqsParameters",
    "RoleArn",
)


def _create_event_rule(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    name = str(properties.get("Name") or f"{prefix}-{logical_id}")
    bus = _events_bus(resources, str(properties.get("EventBusName") or "default"))
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": str(properties.get("State", "ENABLED"))}
    if properties.get("EventPattern"):
        request["EventPattern"] = _attribute_string(properties["EventPattern"])
    if properties.get("ScheduleExpression"):
        request["ScheduleExpression"] = str(properties["ScheduleExpression"])
    if properties.get("Description"):
        request["Description"] = str(properties["Description"])
    arn = str(client.put_rule(**request)["RuleArn"])
    targets = [
        {key: target[key] for key in _TARGET_FIELDS if key in target} for target in properties.get("Targets") or []
    ]
    if targets:
        client.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    resources.record(logical_id, "AWS::Events::Rule", name, Arn=arn)


def _create_event_archive(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    name = str(properties.get("ArchiveName") or f"{prefix}-{logical_id}")[:48]  # EventBridge's limit
    request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": str(properties["SourceArn"])}
    if "RetentionDays" in properties:
        request["RetentionDays"] = int(properties["RetentionDays"])
    if properties.get("EventPattern"):
        request["EventPattern"] = _attribute_string(properties["EventPattern"])
    if properties.get("Description"):
        request["Description"] = str(properties["Description"])
    created = _create_or_reuse(
        lambda: client.create_archive(**request), "ResourceAlreadyExistsException", f"archive {name}"
    )
    arn = str((created or client.describe_archive(ArchiveName=name))["ArchiveArn"])
    resources.record(logical_id, "AWS::Events::Archive", name, Arn=arn)


_CREATORS: dict[str, Callable[[Any, StackResources, str, dict[str, Any], str], None]] = {
    "AWS::DynamoDB::Table": _create_dynamodb_table,
    "AWS::Serverless::SimpleTable": _create_simple_table,
    "AWS::SQS::Queue": _create_sqs_queue,
    "AWS::SNS::Topic": _create_sns_topic,
    "AWS::SNS::Subscription": _create_sns_subscription,
    "AWS::SQS::QueuePolicy": _apply_queue_policy,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_event_rule,
    "AWS::Events::Archive": _create_event_archive,
}
