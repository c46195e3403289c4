"""The webhook pipeline in-process, for the handler suites: the emulator's own events, signed, through
WebhookFunction, the SQS queue and WebhookProcessorFunction; Finance's SNS messages read from a queue
subscribed to the topic."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
from moto.moto_api._internal.responses import MotoAPIResponse

from local_stack.inbox import published_messages, shown
from local_stack.sqs_source import sqs_event_sources
from local_stack.template.intrinsics import StackResources
from local_stack.webhook_event import signed
from tests.support import EMULATOR_API_KEY, WEBHOOK_SECRETS, Invoke, load_event, template

THIN_ENVELOPE = ("id", "object", "context", "created", "livemode", "reason", "related_object", "type")


class Pipeline:
    """Delivers emulator events to the webhook and runs the processor over the queue."""

    def __init__(self, invoke: Invoke, aws: StackResources, stripe_api: str) -> None:
        self.invoke = invoke
        self.aws = aws
        self.stripe_api = stripe_api
        sqs = boto3.client("sqs")
        (self.source,) = sqs_event_sources(template(), aws, invoke, sqs)
        self.finance = sqs.create_queue(QueueName="finance-inbox")["QueueUrl"]
        finance_arn = sqs.get_queue_attributes(QueueUrl=self.finance, AttributeNames=["QueueArn"])["Attributes"]
        boto3.client("sns").subscribe(TopicArn=aws["FinanceTopic"], Protocol="sqs", Endpoint=finance_arn["QueueArn"])

    def stripe_event(self, event_type: str, object_id: str | None = None) -> str:
        """The raw JSON of the newest emulator event of that type (about that object), as Stripe sends it."""
        request = urllib.request.Request(
            f"{self.stripe_api}/v1/events?type={event_type}&limit=100",
            headers={"Authorization": f"Bearer {EMULATOR_API_KEY}"},
        )
        with urllib.request.urlopen(request) as response:
            events = json.loads(response.read())["data"]
        matching = [e for e in events if object_id is None or e["data"]["object"]["id"] == object_id]
        assert matching, f"no {event_type} event in the emulator"
        return json.dumps(matching[0])

    def deliver(self, body: str) -> dict[str, Any]:
        event = load_event("webhook/invoice_created.json")
        event["body"] = body
        response = self.invoke("WebhookFunction", signed(event, WEBHOOK_SECRETS[0]))
        assert response["statusCode"] == 200, response["body"]
        return response

    def deliver_thin(self, thin_event: dict[str, Any]) -> dict[str, Any]:
        """A thin event as an event destination sends it: the envelope without `data`."""
        envelope = {name: thin_event[name] for name in THIN_ENVELOPE if name in thin_event}
        return self.deliver(json.dumps(envelope))

    def process(self) -> None:
        self.source.drain()

    def finance_messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.finance, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def finance_emails(self) -> list[str]:
        """Finance's messages as `make inbox` shows them: the subject, then the text the email subscription gets
        (what was published, from moto's dump as its server serves it at /moto-api/data.json)."""
        _, _, dump = MotoAPIResponse().model_data(None, "", {})
        published = published_messages(json.loads(dump))
        return [shown(message, published.get(message["MessageId"])) for message in self.finance_messages()]

    def event_status(self, event_id: str) -> str:
        table = boto3.resource("dynamodb").Table(self.aws["StripeEventsTable"])
        return str(table.get_item(Key={"event_id": event_id})["Item"]["status"])

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        table = boto3.resource("dynamodb").Table(self.aws["InvoicesTable"])
        return table.get_item(Key={"invoice_id": invoice_id}).get("Item")
