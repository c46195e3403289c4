"""MeterBatchStore on the DynamoDB UsageBatchesTable (key: batch_id)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from incytes_billing.adapters.dynamodb_items import (
    DynamoDBTableAdapter,
    as_models,
    batch_get,
    conditional_write,
    every_item,
    to_item,
)
from incytes_billing.models.usage import BatchOutcome, MeterBatch, meter_key

# Sparse: only batches not yet settled carry open_funder_id.
OPEN_INDEX = "open_by_funder"
# Every batch of one customer on one meter, by timestamp: what Stripe's meter summaries should hold.
METER_TIME_INDEX = "by_meter_time"


class DynamoDBMeterBatchStore(DynamoDBTableAdapter):
    def save(self, batch: MeterBatch) -> MeterBatch:
        if conditional_write(
            self._table.put_item,
            Item={**to_item(batch), "open_funder_id": batch.funder_id, "meter_key": batch.meter_key},
            ConditionExpression="attribute_not_exists(batch_id)",
        ):
            return batch
        stored = self.get(batch.batch_id)
        assert stored is not None
        return stored

    def get(self, batch_id: str) -> MeterBatch | None:
        return self._read(MeterBatch, {"batch_id": batch_id})

    def open_batches(self, funder_id: str) -> list[MeterBatch]:
        items = self._table.query(IndexName=OPEN_INDEX, KeyConditionExpression=Key("open_funder_id").eq(funder_id))[
            "Items"
        ]
        # The index lags and holds only keys: read the batches themselves, consistently.
        keys = [{"batch_id": item["batch_id"]} for item in items]
        batches = as_models(MeterBatch, batch_get(self._table, keys))
        return sorted((batch for batch in batches if batch.status != "settled"), key=lambda batch: batch.batch_id)

    def in_meter_window(self, customer_id: str, event_name: str, start: int, end: int) -> list[MeterBatch]:
        items = every_item(
            self._table.query,
            IndexName=METER_TIME_INDEX,
            KeyConditionExpression=Key("meter_key").eq(meter_key(customer_id, event_name))
            & Key("timestamp").between(start, end - 1),
        )
        return as_models(MeterBatch, items)

    def mark_streamed(self, batch_id: str, *, at: int) -> None:
        # Not when settled meanwhile (an error report refused it): the settlement stands.
        conditional_write(
            self._table.update_item,
            Key={"batch_id": batch_id},
            UpdateExpression="SET #s = :streamed, sent_at = :at",
            ConditionExpression="#s <> :settled",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":streamed": "streamed", ":at": at, ":settled": "settled"},
        )

    def mark_settled(self, batch_id: str, outcome: BatchOutcome, *, sent_at: int | None = None) -> None:
        values: dict[str, Any] = {":settled": "settled", ":outcome": outcome}
        sent = ""
        if sent_at is not None:
            sent, values[":at"] = ", sent_at = if_not_exists(sent_at, :at)", sent_at
        self._table.update_item(
            Key={"batch_id": batch_id},
            UpdateExpression=f"SET #s = :settled, outcome = :outcome{sent} REMOVE open_funder_id",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )
