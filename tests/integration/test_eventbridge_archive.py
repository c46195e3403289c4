"""The reconciler's archive replay (issue 14 §2) through the real boto3 client, against moto's EventBridge: the
window's archived events are put back on their bus, whose rule routes them again; starting the same window twice
starts one replay (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from incytes_billing.adapters.eventbridge_archive import EventBridgeArchive


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        bus_arn = events.create_event_bus(Name="stripe-bus")["EventBusArn"]
        queue_url = sqs.create_queue(QueueName="stripe-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = json.dumps({"source": ["aws.partner/stripe.com/ed_test_1"]})
        events.put_rule(Name="stripe-events", EventBusName="stripe-bus", EventPattern=pattern)
        events.put_targets(Rule="stripe-events", EventBusName="stripe-bus", Targets=[{"Id": "q", "Arn": queue_arn}])
        events.create_archive(ArchiveName="stripe-archive", EventSourceArn=bus_arn, EventPattern=pattern)
        yield {"events": events, "sqs": sqs, "queue_url": queue_url}


def received(sqs: Any, queue_url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"])["detail"]["id"] for message in messages]


def test_a_window_of_the_archive_is_routed_again_and_a_repeated_start_starts_nothing_new(bus: dict[str, Any]) -> None:
    events, sqs, queue_url = bus["events"], bus["sqs"], bus["queue_url"]
    detail = {"id": "evt_1", "object": "event", "type": "invoice.created", "created": 1}
    events.put_events(
        Entries=[
            {
                "EventBusName": "stripe-bus",
                "Source": "aws.partner/stripe.com/ed_test_1",
                "DetailType": "invoice.created",
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert received(sqs, queue_url) == ["evt_1"]  # the first delivery

    now = datetime.now(UTC)
    archive = EventBridgeArchive(events)
    name = archive.replay("stripe-archive", now - timedelta(hours=1), now + timedelta(minutes=1))
    assert archive.replay("stripe-archive", now - timedelta(hours=1), now + timedelta(minutes=1)) == name
    assert [r["ReplayName"] for r in events.list_replays()["Replays"]] == [name]
    assert received(sqs, queue_url) == ["evt_1"]  # delivered again, once
