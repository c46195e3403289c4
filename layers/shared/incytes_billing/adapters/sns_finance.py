"""FinanceNotifier on SNS: readable text for email, JSON for machines (MessageStructure=json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from incytes_billing.models.events import FinanceNotice

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


@dataclass(frozen=True)
class SnsFinanceNotifier:
    client: SNSClient
    topic_arn: str

    def publish(self, notice: FinanceNotice) -> None:
        machine = json.dumps(notice.data, default=str)
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=notice.subject,
            MessageStructure="json",
            # `default` goes to every protocol without its own entry (SQS, Lambda, HTTP): the JSON body.
            Message=json.dumps({"default": machine, "email": notice.text, "email-json": machine}),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": notice.event_type}},
        )
