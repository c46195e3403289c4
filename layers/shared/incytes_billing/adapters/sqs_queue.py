"""EventQueue on SQS: the stored event's id is the message; the queue gives retries, backoff and a DLQ."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsEventQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, event_id: str) -> None:
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=event_id)

    def retry_after(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message, not deleted, visible again after `seconds` (the processor's backoff)."""
        self._client.change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
