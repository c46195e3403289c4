"""SNS email subscriptions deliver nothing under moto: the stack subscribes an SQS queue (an "inbox") to each
SNS topic of the template, where Finance's messages can be read (`make inbox`)."""

from __future__ import annotations

from typing import Any

INBOX_SUFFIX = "-inbox"


def subscribe_inboxes(session: Any, resources: Any) -> dict[str, str]:
    """Create `<topic logical id>-inbox` queues subscribed to the template's topics; answer topic id -> queue URL."""
    sqs, sns = session.client("sqs"), session.client("sns")
    inboxes = {}
    for logical_id, resource_type in resources.types.items():
        if resource_type != "AWS::SNS::Topic":
            continue
        url = sqs.create_queue(QueueName=f"{resources.stack_name}-{logical_id}{INBOX_SUFFIX}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=resources[logical_id], Protocol="sqs", Endpoint=arn)
        inboxes[logical_id] = url
    return inboxes
