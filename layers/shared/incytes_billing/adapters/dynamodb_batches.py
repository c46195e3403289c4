"""MeterBatchStore on the DynamoDB UsageBatchesTable (key: batch_id)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from incytes_billing.adapters.dynamodb_items import is_conditional_check_failure, plain_numbers, to_item
from incytes_billing.models.usage import MeterBatch

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class DynamoDBMeterBatchStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def save(self, batch: MeterBatch) -> MeterBatch:
        try:
            self._table.put_item(Item=to_item(batch), ConditionExpression="attribute_not_exists(batch_id)")
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise
            stored = self.get(batch.batch_id)
            assert stored is not None
            return stored
        return batch

    def get(self, batch_id: str) -> MeterBatch | None:
        item = self._table.get_item(Key={"batch_id": batch_id}, ConsistentRead=True).get("Item")
        return None if item is None else MeterBatch.model_validate(plain_numbers(item))

    def mark_sent(self, batch_id: str) -> None:
        self._table.update_item(
            Key={"batch_id": batch_id},
            UpdateExpression="SET #s = :sent",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":sent": "sent"},
        )
