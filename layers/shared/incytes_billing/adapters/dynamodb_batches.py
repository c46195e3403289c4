"""MeterBatchStore on the DynamoDB UsageBatchesTable (key: batch_id)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from incytes_billing.adapters.dynamodb_items import STATUS_NAME, DynamoDBTableAdapter, to_item
from incytes_billing.models.usage import BatchOutcome, MeterBatch, meter_key

# Sparse: only batches not yet settled carry open_funder_id.
OPEN_INDEX = "open_by_funder"
# Every batch of one customer on one meter, by timestamp: what Stripe's meter summaries should hold.
METER_TIME_INDEX = "by_meter_time"


class DynamoDBMeterBatchStore(DynamoDBTableAdapter):
    def save(self, batch: MeterBatch) -> MeterBatch:
        if self._put_new(
            {**to_item(batch), "open_funder_id": batch.funder_id, "meter_key": batch.meter_key}, key="batch_id"
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
        batches = self._read_many(MeterBatch, [{"batch_id": item["batch_id"]} for item in items])
        return sorted((batch for batch in batches if batch.status != "settled"), key=lambda batch: batch.batch_id)

    def in_meter_window(self, customer_id: str, event_name: str, start: int, end: int) -> list[MeterBatch]:
        return self._query(
            MeterBatch,
            IndexName=METER_TIME_INDEX,
            KeyConditionExpression=Key("meter_key").eq(meter_key(customer_id, event_name))
            & Key("timestamp").between(start, end - 1),
        )

    def mark_streamed(self, batch_id: str, *, at: int) -> None:
        # Not when settled meanwhile (an error report refused it): the settlement stands.
        self._update_if(
            {"batch_id": batch_id},
            "SET #s = :streamed, sent_at = :at",
            condition="#s <> :settled",
            values={":streamed": "streamed", ":at": at, ":settled": "settled"},
        )

    def mark_settled(self, batch_id: str, outcome: BatchOutcome, *, sent_at: int | None = None) -> None:
        values: dict[str, Any] = {":settled": "settled", ":outcome": outcome}
        sent = ""
        if sent_at is not None:
            sent, values[":at"] = ", sent_at = if_not_exists(sent_at, :at)", sent_at
        self._table.update_item(
            Key={"batch_id": batch_id},
            UpdateExpression=f"SET #s = :settled, outcome = :outcome{sent} REMOVE open_funder_id",
            ExpressionAttributeNames=STATUS_NAME,
            ExpressionAttributeValues=values,
        )
