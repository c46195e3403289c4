"""UsageRepository on the DynamoDB UsageTable (key: funder_id + usage_id; index by_occurred_at)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from incytes_billing.adapters.dynamodb_items import (
    DynamoDBTableAdapter,
    as_models,
    batch_get,
    conditional_write,
    every_item,
    to_item,
)
from incytes_billing.models.usage import UsageRecord, UsageStatus

OCCURRED_INDEX = "by_occurred_at"
# Sparse: only records still pending carry `pending_since`, so the reporter reads just those.
PENDING_INDEX = "pending_by_funder"


class DynamoDBUsageRepository(DynamoDBTableAdapter):
    def insert(self, record: UsageRecord) -> bool:
        return conditional_write(
            self._table.put_item,
            Item={**to_item(record), "pending_since": record.recorded_at},
            ConditionExpression="attribute_not_exists(usage_id)",
        )

    def get(self, funder_id: str, usage_id: str) -> UsageRecord | None:
        return self._read(UsageRecord, {"funder_id": funder_id, "usage_id": usage_id})

    def between(self, funder_id: str, start: str, end: str) -> list[UsageRecord]:
        items = every_item(
            self._table.query,
            IndexName=OCCURRED_INDEX,
            KeyConditionExpression=Key("funder_id").eq(funder_id) & Key("occurred_at").between(start, end),
        )
        return [record for record in as_models(UsageRecord, items) if record.occurred_at < end]  # BETWEEN is inclusive

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
        records = as_models(UsageRecord, batch_get(self._table, keys))
        return sorted((r for r in records if r.status == "pending"), key=lambda r: r.usage_id)

    def funders_with_pending(self) -> set[str]:
        items = every_item(self._table.scan, IndexName=PENDING_INDEX, ProjectionExpression="funder_id")
        return {str(item["funder_id"]) for item in items}

    def get_many(self, funder_id: str, usage_ids: list[str]) -> list[UsageRecord]:
        keys = [{"funder_id": funder_id, "usage_id": usage_id} for usage_id in usage_ids]
        return as_models(UsageRecord, batch_get(self._table, keys))

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
        # Not when settled already by an earlier attempt: the outcome stands.
        conditional_write(
            self._table.update_item,
            Key={"funder_id": record.funder_id, "usage_id": record.usage_id},
            UpdateExpression="SET #s = :status, reason = :reason, batch_id = :batch REMOVE pending_since",
            ConditionExpression=f"#s IN ({', '.join(names)})",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":status": status, ":reason": reason, ":batch": batch_id, **names},
        )
