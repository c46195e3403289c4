"""SQS event sources, played locally as Lambda's event source mapping would (moto runs none).

Receives a batch, invokes the function with a Lambda SQS event, deletes the messages that succeeded (with
`ReportBatchItemFailures`, those not listed in `batchItemFailures`), and leaves the rest to come back after
their visibility timeout; the queue's redrive policy then moves them to its dead-letter queue, as on AWS.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from local_stack.template.functions import function_ids, function_properties
from local_stack.workers import PollingWorker

LOG = logging.getLogger(__name__)
Invoke = Callable[[str, dict[str, Any]], Any]


def sqs_lambda_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands an SQS-triggered function, built from `ReceiveMessage` results."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class SqsEventSource:
    def __init__(
        self, invoke: Invoke, function_id: str, *, sqs: Any, queue_url: str, queue_arn: str, batch_size: int = 10
    ) -> None:
        self._invoke = invoke
        self.function_id = function_id
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._batch_size = batch_size

    def poll_once(self) -> bool:
        """One receive-invoke-delete round; answers whether any message was handled."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        region = self._queue_arn.split(":")[3]
        try:
            result = self._invoke(self.function_id, sqs_lambda_event(messages, self._queue_arn, region)) or {}
        except Exception:
            LOG.exception("%s failed: its %d messages will be received again", self.function_id, len(messages))
            return True
        failed = {failure["itemIdentifier"] for failure in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return True

    def drain(self, max_rounds: int = 100) -> None:
        """Poll until the queue shows nothing visible (tests: deliver what is queued now)."""
        for _ in range(max_rounds):
            if not self.poll_once():
                return


def sqs_event_sources(template: Any, resources: Any, invoke: Invoke, sqs: Any) -> list[SqsEventSource]:
    """One source per `Type: SQS` event of the template's functions (`Queue: !GetAtt X.Arn`)."""
    sources = []
    for function_id in function_ids(template):
        for event in (function_properties(template, function_id).get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            queue = event["Properties"]["Queue"]
            logical_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else str(queue)
            sources.append(
                SqsEventSource(
                    invoke,
                    function_id,
                    sqs=sqs,
                    queue_url=resources[logical_id],
                    queue_arn=resources.attributes[logical_id]["Arn"],
                    batch_size=int(event["Properties"].get("BatchSize", 10)),
                )
            )
    return sources


def sqs_workers(context: Any) -> list[PollingWorker]:
    """The stack's worker factory: poll every SQS event source of the template."""

    def invoke(function_id: str, event: dict[str, Any]) -> Any:
        return context.runner.invoke(function_id, event).result

    sqs = context.boto3_session.client("sqs")
    return [
        PollingWorker(f"sqs:{source.function_id}", source.poll_once, interval=0.5)
        for source in sqs_event_sources(context.template, context.resources, invoke, sqs)
    ]
