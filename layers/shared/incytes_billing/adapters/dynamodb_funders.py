"""FunderRepository on the DynamoDB FundersTable (key: funder_id)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from incytes_billing.adapters.dynamodb_items import (
    DynamoDBTableAdapter,
    batch_get,
    every_item,
    plain_numbers,
    put_versioned,
    to_item,
)

if TYPE_CHECKING:
    from incytes_billing.models.funder import Funder

CUSTOMER_INDEX = "by_stripe_customer"


class DynamoDBFunderRepository(DynamoDBTableAdapter):
    def get(self, funder_id: str) -> Funder | None:
        # Built on the first read, not when the composition root loads this adapter: the webhook reads no funder,
        # the workers no model at init (issue 12 §1).
        from incytes_billing.models.funder import Funder

        item = self._table.get_item(Key={"funder_id": funder_id}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        data = plain_numbers(item)
        data.setdefault("stripe_customer_id", None)
        return Funder.model_validate(data)

    def existing(self, funder_ids: Collection[str]) -> set[str]:
        keys = [{"funder_id": funder_id} for funder_id in sorted(set(funder_ids))]
        return {str(item["funder_id"]) for item in batch_get(self._table, keys, projection="funder_id")}

    def find_by_customer(self, customer_id: str) -> Funder | None:
        # The index is eventually consistent: a link written a moment ago may not show yet (the caller retries).
        items = self._table.query(
            IndexName=CUSTOMER_INDEX,
            KeyConditionExpression="stripe_customer_id = :customer",
            ExpressionAttributeValues={":customer": customer_id},
        )["Items"]
        # One customer, one funder in practice; if two were linked, the live subscription's funder wins.
        funders = [self.get(str(item["funder_id"])) for item in items]
        linked = sorted((f for f in funders if f is not None), key=lambda f: not f.is_subscribed)
        return linked[0] if linked else None

    def funder_ids(self) -> list[str]:
        """Every funder's id (one small item per funder: a projected scan)."""
        return sorted(str(item["funder_id"]) for item in every_item(self._table.scan, ProjectionExpression="funder_id"))

    def save(self, funder: Funder, *, expected_version: int | None) -> None:
        put_versioned(self._table, to_item(funder), key="funder_id", expected_version=expected_version)
