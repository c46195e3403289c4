"""EventQueue on SQS: the stored event's id is the message; the queue gives retries, backoff and a DLQ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class SqsEventQueue:
    client: SQSClient
    queue_url: str

    def enqueue(self, event_id: str) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=event_id)

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message, not deleted, visible again after `seconds` (the processor's backoff)."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
