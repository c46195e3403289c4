"""UsageRepository on the DynamoDB UsageTable (key: funder_id + usage_id; index by_occurred_at)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from incytes_billing.adapters.dynamodb_items import is_conditional_check_failure, plain_numbers, to_item
from incytes_billing.models.usage import UsageRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

OCCURRED_INDEX = "by_occurred_at"


class DynamoDBUsageRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def insert(self, record: UsageRecord) -> bool:
        try:
            self._table.put_item(Item=to_item(record), ConditionExpression="attribute_not_exists(usage_id)")
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def get(self, funder_id: str, usage_id: str) -> UsageRecord | None:
        item = self._table.get_item(Key={"funder_id": funder_id, "usage_id": usage_id}, ConsistentRead=True).get("Item")
        return None if item is None else UsageRecord.model_validate(plain_numbers(item))

    def between(self, funder_id: str, start: str, end: str) -> list[UsageRecord]:
        query: dict[str, Any] = {
            "IndexName": OCCURRED_INDEX,
            "KeyConditionExpression": Key("funder_id").eq(funder_id) & Key("occurred_at").between(start, end),
        }
        records: list[UsageRecord] = []
        while True:
            page = self._table.query(**query)
            found = (UsageRecord.model_validate(plain_numbers(item)) for item in page["Items"])
            records.extend(record for record in found if record.occurred_at < end)  # BETWEEN is inclusive
            if "LastEvaluatedKey" not in page:
                return records
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
