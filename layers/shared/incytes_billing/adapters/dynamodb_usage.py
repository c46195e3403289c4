"""UsageRepository on the DynamoDB UsageTable (key: funder_id + usage_id; index by_occurred_at)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from incytes_billing.adapters.dynamodb_items import is_conditional_check_failure, plain_numbers, to_item
from incytes_billing.models.usage import UsageRecord, UsageStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

OCCURRED_INDEX = "by_occurred_at"
# Sparse: only records still pending carry `pending_since`, so the reporter reads just those.
PENDING_INDEX = "pending_by_funder"


class DynamoDBUsageRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def insert(self, record: UsageRecord) -> bool:
        try:
            self._table.put_item(
                Item={**to_item(record), "pending_since": record.recorded_at},
                ConditionExpression="attribute_not_exists(usage_id)",
            )
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

    def pending(self, funder_id: str) -> list[UsageRecord]:
        keys: list[dict[str, Any]] = []
        query: dict[str, Any] = {"IndexName": PENDING_INDEX, "KeyConditionExpression": Key("funder_id").eq(funder_id)}
        while True:
            page = self._table.query(**query)
            keys.extend({"funder_id": item["funder_id"], "usage_id": item["usage_id"]} for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        # The index lags a little: read each record itself, consistently, and keep those still pending.
        records = [self.get(str(key["funder_id"]), str(key["usage_id"])) for key in keys]
        return [record for record in records if record is not None and record.status == "pending"]

    def funders_with_pending(self) -> set[str]:
        funders: set[str] = set()
        scan: dict[str, Any] = {"IndexName": PENDING_INDEX, "ProjectionExpression": "funder_id"}
        while True:
            page = self._table.scan(**scan)
            funders.update(str(item["funder_id"]) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return funders
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(self, record: UsageRecord, batch_id: str) -> None:
        self._table.update_item(
            Key={"funder_id": record.funder_id, "usage_id": record.usage_id},
            UpdateExpression="SET batch_id = :batch",
            ConditionExpression="#s = :pending AND (attribute_not_exists(batch_id) OR batch_id = :batch)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":batch": batch_id, ":pending": "pending"},
        )

    def settle(self, record: UsageRecord, status: UsageStatus, *, reason: str | None = None) -> None:
        try:
            self._table.update_item(
                Key={"funder_id": record.funder_id, "usage_id": record.usage_id},
                UpdateExpression="SET #s = :status, reason = :reason REMOVE pending_since",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":status": status, ":reason": reason, ":pending": "pending"},
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise
            # Settled already by an earlier attempt: the outcome stands.
