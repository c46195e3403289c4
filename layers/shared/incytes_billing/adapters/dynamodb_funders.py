"""FunderRepository on the DynamoDB FundersTable (key: funder_id)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from incytes_billing.errors import ConcurrentUpdate
from incytes_billing.models.funder import Funder

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class DynamoDBFunderRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, funder_id: str) -> Funder | None:
        item = self._table.get_item(Key={"funder_id": funder_id}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        data = _from_item(item)
        data.setdefault("stripe_customer_id", None)
        return Funder.model_validate(data)

    def save(self, funder: Funder, *, expected_version: int | None) -> None:
        item = _to_item(funder)
        try:
            if expected_version is None:
                self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(funder_id)")
            else:
                self._table.put_item(
                    Item=item,
                    ConditionExpression="version = :expected",
                    ExpressionAttributeValues={":expected": expected_version},
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(f"Funder '{funder.funder_id}' changed concurrently.") from error
            raise


def _to_item(funder: Funder) -> dict[str, Any]:
    # None is left out: a GSI key attribute may not be null, and an absent attribute reads back as None.
    return funder.model_dump(mode="json", exclude_none=True)


def _from_item(item: dict[str, Any]) -> Any:
    """DynamoDB numbers come back as Decimal; every number this table stores is an integer."""
    if isinstance(item, dict):
        return {key: _from_item(inner) for key, inner in item.items()}
    if isinstance(item, list):
        return [_from_item(inner) for inner in item]
    if isinstance(item, Decimal):
        return int(item)
    return item
