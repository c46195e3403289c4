"""create_aws_resources: the template's tables, queues and topics, built faithfully under moto's mock_aws."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_stack.template.aws_resources import (
    SUPPORTED_RESOURCE_TYPES,
    create_aws_resources,
    dynamodb_create_table_request,
)
from local_stack.template.document import Template, TemplateError, parse_template
from local_stack.template.functions import function_environment


def _key_schema(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in items]


def test_project_tables_match_the_template(aws_session: Any, project_template: Template) -> None:
    resources = create_aws_resources(project_template, session_or_clients=aws_session, prefix="local")
    assert resources["FundersTable"] == "local-FundersTable"

    spec = project_template["Resources"]["FundersTable"]["Properties"]
    table = aws_session.client("dynamodb").describe_table(TableName=resources["FundersTable"])["Table"]
    assert _key_schema(table["KeySchema"]) == _key_schema(spec["KeySchema"])
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == sorted(
        (a["AttributeName"], a["AttributeType"]) for a in spec["AttributeDefinitions"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == spec["BillingMode"]
    created_indexes = {
        gsi["IndexName"]: (_key_schema(gsi["KeySchema"]), gsi["Projection"]) for gsi in table["GlobalSecondaryIndexes"]
    }
    template_indexes = {
        gsi["IndexName"]: (_key_schema(gsi["KeySchema"]), gsi["Projection"]) for gsi in spec["GlobalSecondaryIndexes"]
    }
    assert created_indexes == template_indexes
    assert table["SSEDescription"]["Status"] == "ENABLED"
    backups = aws_session.client("dynamodb").describe_continuous_backups(TableName=resources["FundersTable"])
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == (
        "ENABLED"
    )

    # Only the tables/topics/queues (and EventBridge's resources) are created: functions, layers and the API are not.
    creatable = set(SUPPORTED_RESOURCE_TYPES)
    assert set(resources) == {
        logical_id
        for logical_id, resource in project_template["Resources"].items()
        if resource["Type"] in creatable and "Condition" not in resource  # the conditions are false by default
    }
    env = function_environment(project_template, "FundersFunction", resources)
    assert env["FUNDERS_TABLE_NAME"] == "local-FundersTable"


def test_fixture_table_indexes_stream_ttl_and_provisioning(aws_session: Any, fixture_template: Template) -> None:
    resources = create_aws_resources(fixture_template, session_or_clients=aws_session, prefix="fx")
    dynamodb = aws_session.client("dynamodb")
    items = dynamodb.describe_table(TableName=resources["ItemsTable"])["Table"]
    spec = fixture_template["Resources"]["ItemsTable"]["Properties"]
    assert _key_schema(items["KeySchema"]) == [("pk", "HASH"), ("sk", "RANGE")]
    gsi = items["GlobalSecondaryIndexes"][0]
    assert gsi["IndexName"] == "by_owner"
    assert _key_schema(gsi["KeySchema"]) == _key_schema(spec["GlobalSecondaryIndexes"][0]["KeySchema"])
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}
    lsi = items["LocalSecondaryIndexes"][0]
    assert (lsi["IndexName"], lsi["Projection"]) == ("by_created", {"ProjectionType": "KEYS_ONLY"})
    assert items["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert resources.attributes["ItemsTable"]["StreamArn"] == items["LatestStreamArn"]
    ttl = dynamodb.describe_time_to_live(TableName=resources["ItemsTable"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    # TableName from the template (with !Sub of AWS::StackName), provisioned throughput as declared.
    assert resources["ProvisionedTable"] == "fx-provisioned-test"
    provisioned = dynamodb.describe_table(TableName="fx-provisioned-test")["Table"]
    throughput = provisioned["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (2, 3)

    # Condition: IsProd is false by default, so its table does not exist.
    assert "ProdOnlyTable" not in resources
    assert sorted(dynamodb.list_tables()["TableNames"]) == ["fx-ItemsTable", "fx-provisioned-test"]

    env = function_environment(fixture_template, "EchoFunction", resources)
    assert env["STREAM_ARN"] == items["LatestStreamArn"]
    assert env["TABLE_ARN"] == items["TableArn"]


def test_queues_topics_and_subscriptions(aws_session: Any, fixture_template: Template) -> None:
    resources = create_aws_resources(fixture_template, session_or_clients=aws_session, prefix="fx")
    sqs, sns = aws_session.client("sqs"), aws_session.client("sns")

    events = sqs.get_queue_attributes(QueueUrl=resources["EventsQueue"], AttributeNames=["All"])["Attributes"]
    assert events["VisibilityTimeout"] == "60"
    assert json.loads(events["RedrivePolicy"]) == {
        "deadLetterTargetArn": resources.attributes["DeadLetterQueue"]["Arn"],
        "maxReceiveCount": 5,
    }
    ordered = sqs.get_queue_attributes(QueueUrl=resources["OrderedQueue"], AttributeNames=["All"])["Attributes"]
    assert resources["OrderedQueue"].endswith("fx-OrderedQueue.fifo")
    assert (ordered["FifoQueue"], ordered["ContentBasedDeduplication"]) == ("true", "true")

    topic = resources["NotificationsTopic"]
    assert topic == "arn:aws:sns:us-east-1:123456789012:fx-NotificationsTopic"
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions) == sorted(
        [
            ("sqs", resources.attributes["EventsQueue"]["Arn"]),
            ("sqs", resources.attributes["DeadLetterQueue"]["Arn"]),
        ]
    )  # the email subscription's Condition (an AlertEmail) is false

    sns.publish(TopicArn=topic, Message="hello finance")
    wrapped = sqs.receive_message(QueueUrl=resources["EventsQueue"], WaitTimeSeconds=1)["Messages"][0]
    assert json.loads(wrapped["Body"])["Message"] == "hello finance"
    raw = sqs.receive_message(QueueUrl=resources["DeadLetterQueue"], WaitTimeSeconds=1)["Messages"][0]
    assert raw["Body"] == "hello finance"  # RawMessageDelivery


def test_conditional_email_subscription_when_enabled(aws_session: Any, fixture_template: Template) -> None:
    resources = create_aws_resources(
        fixture_template,
        session_or_clients=aws_session,
        prefix="fx",
        parameter_overrides={"AlertEmail": "finance@example.com"},
    )
    subscriptions = aws_session.client("sns").list_subscriptions_by_topic(TopicArn=resources["NotificationsTopic"])
    assert ("email", "finance@example.com") in {(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]}


def test_creating_twice_reuses_what_exists(aws_session: Any, fixture_template: Template) -> None:
    first = create_aws_resources(fixture_template, session_or_clients=aws_session, prefix="fx")
    second = create_aws_resources(fixture_template, session_or_clients=aws_session, prefix="fx")
    assert {k: v for k, v in first.items() if k != "RawSubscription"} == {
        k: v for k, v in second.items() if k != "RawSubscription"
    }
    subscriptions = aws_session.client("sns").list_subscriptions_by_topic(TopicArn=first["NotificationsTopic"])
    assert len(subscriptions["Subscriptions"]) == 2


def test_clients_mapping_is_accepted(aws_session: Any, project_template: Template) -> None:
    clients = {service: aws_session.client(service) for service in ("dynamodb", "sqs", "sns")}
    resources = create_aws_resources(project_template, session_or_clients=clients, prefix="m")
    assert resources["FundersTable"] == "m-FundersTable"


def test_dependencies_are_created_first(aws_session: Any) -> None:
    # The queue refers to its dead-letter queue, declared after it.
    template = parse_template(
        """
Resources:
  Main:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 3}
  Dlq:
    Type: AWS::SQS::Queue
"""
    )
    resources = create_aws_resources(template, session_or_clients=aws_session, prefix="d")
    assert list(resources) == ["Dlq", "Main"]


def test_circular_dependencies_are_reported(aws_session: Any) -> None:
    template = parse_template(
        """
Resources:
  A: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn}}}
  B: {Type: AWS::SQS::Queue, Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn}}}
"""
    )
    with pytest.raises(TemplateError, match="circular"):
        create_aws_resources(template, session_or_clients=aws_session, prefix="c")


def test_create_table_request_mapping() -> None:
    request = dynamodb_create_table_request(
        "t",
        {
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": "1", "WriteCapacityUnits": 1},
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "g",
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 5},
                }
            ],
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "StreamSpecification": {"StreamViewType": "KEYS_ONLY"},
            "Tags": [{"Key": "team", "Value": "billing"}],
            "DeletionProtectionEnabled": "true",
        },
    )
    assert request == {
        "TableName": "t",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PROVISIONED",  # CloudFormation's default
        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "g",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 5},
            }
        ],
        "SSESpecification": {"Enabled": True, "SSEType": "KMS"},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        "Tags": [{"Key": "team", "Value": "billing"}],
        "DeletionProtectionEnabled": True,
    }
    with pytest.raises(TemplateError, match="ProvisionedThroughput"):
        dynamodb_create_table_request("t", {"AttributeDefinitions": [], "KeySchema": []})
