"""UsageRepository on the DynamoDB UsageTable (key: funder_id + usage_id; index by_occurred_at)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from incytes_billing.adapters.dynamodb_items import (
    batch_get,
    every_item,
    is_conditional_check_failure,
    plain_numbers,
    to_item,
)
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
        items = every_item(
            self._table.query,
            IndexName=OCCURRED_INDEX,
            KeyConditionExpression=Key("funder_id").eq(funder_id) & Key("occurred_at").between(start, end),
        )
        found = (UsageRecord.model_validate(plain_numbers(item)) for item in items)
        return [record for record in found if record.occurred_at < end]  # BETWEEN is inclusive

    def pending(self, funder_id: str, *, exclude: set[str] | frozenset[str] = frozenset()) -> list[UsageRecord]:
        items = every_item(
            self._table.query, IndexName=PENDING_INDEX, KeyConditionExpression=Key("funder_id").eq(funder_id)
        )
        keys = [
            {"funder_id": item["funder_id"], "usage_id": item["usage_id"]}
            for item in items
            if item["usage_id"] not in exclude
        ]
        # The index lags a little: read the records themselves, consistently, and keep those still pending.
        records = [UsageRecord.model_validate(plain_numbers(item)) for item in batch_get(self._table, keys)]
        return sorted((r for r in records if r.status == "pending"), key=lambda r: r.usage_id)

    def funders_with_pending(self) -> set[str]:
        items = every_item(self._table.scan, IndexName=PENDING_INDEX, ProjectionExpression="funder_id")
        return {str(item["funder_id"]) for item in items}

    def get_many(self, funder_id: str, usage_ids: list[str]) -> list[UsageRecord]:
        keys = [{"funder_id": funder_id, "usage_id": usage_id} for usage_id in usage_ids]
        return [UsageRecord.model_validate(plain_numbers(item)) for item in batch_get(self._table, keys)]

    def settle(
        self,
        record: UsageRecord,
        status: UsageStatus,
        *,
        reason: str | None = None,
        batch_id: str | None = None,
        expected: tuple[UsageStatus, ...] = ("pending",),
    ) -> None:
        names = {f":was{i}": was for i, was in enumerate(expected)}
        try:
            self._table.update_item(
                Key={"funder_id": record.funder_id, "usage_id": record.usage_id},
                UpdateExpression="SET #s = :status, reason = :reason, batch_id = :batch REMOVE pending_since",
                ConditionExpression=f"#s IN ({', '.join(names)})",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":status": status, ":reason": reason, ":batch": batch_id, **names},
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise
            # Settled already by an earlier attempt: the outcome stands.
