"""UsageRepository on the DynamoDB UsageTable (key: funder_id + usage_id; index by_occurred_at)."""

from __future__ import annotations

from typing import Unpack

from boto3.dynamodb.conditions import Key

from incytes_billing.adapters.dynamodb_items import DynamoDBTableAdapter, every_item, to_item
from incytes_billing.models.usage import SETTLED_FROM, Settlement, UsageRecord, UsageStatus

OCCURRED_INDEX = "by_occurred_at"
# Sparse: only records still pending carry `pending_since`, so the reporter reads just those.
PENDING_INDEX = "pending_by_funder"


class DynamoDBUsageRepository(DynamoDBTableAdapter):
    def insert(self, record: UsageRecord) -> bool:
        return self._put_new({**to_item(record), "pending_since": record.recorded_at}, key="usage_id")

    def get(self, funder_id: str, usage_id: str) -> UsageRecord | None:
        return self._read(UsageRecord, {"funder_id": funder_id, "usage_id": usage_id})

    def between(self, funder_id: str, start: str, end: str) -> list[UsageRecord]:
        records = self._query(
            UsageRecord,
            IndexName=OCCURRED_INDEX,
            KeyConditionExpression=Key("funder_id").eq(funder_id) & Key("occurred_at").between(start, end),
        )
        return [record for record in records if record.occurred_at < end]  # BETWEEN is inclusive

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
        records = self._read_many(UsageRecord, keys)
        return sorted((r for r in records if r.status == "pending"), key=lambda r: r.usage_id)

    def funders_with_pending(self) -> set[str]:
        items = every_item(self._table.scan, IndexName=PENDING_INDEX, ProjectionExpression="funder_id")
        return {str(item["funder_id"]) for item in items}

    def get_many(self, funder_id: str, usage_ids: list[str]) -> list[UsageRecord]:
        return self._read_many(UsageRecord, [{"funder_id": funder_id, "usage_id": usage_id} for usage_id in usage_ids])

    def settle(self, record: UsageRecord, status: UsageStatus, **settlement: Unpack[Settlement]) -> None:
        names = {f":was{i}": was for i, was in enumerate(settlement.get("expected", SETTLED_FROM))}
        reason, batch_id = settlement.get("reason"), settlement.get("batch_id")
        # Not when settled already by an earlier attempt: the outcome stands.
        self._update_if(
            {"funder_id": record.funder_id, "usage_id": record.usage_id},
            "SET #s = :status, reason = :reason, batch_id = :batch REMOVE pending_since",
            condition=f"#s IN ({', '.join(names)})",
            values={":status": status, ":reason": reason, ":batch": batch_id, **names},
        )
