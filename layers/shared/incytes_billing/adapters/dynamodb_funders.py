"""FunderRepository on the DynamoDB FundersTable (key: funder_id)."""

from __future__ import annotations

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
        return None if item is None else Funder.model_validate(_from_item(item))

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
    item = funder.model_dump(mode="json")
    item["version"] = funder.version
    # A GSI key attribute may not be null: leave it out when the funder has no customer.
    return {key: value for key, value in item.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    data = dict(item)
    data.setdefault("stripe_customer_id", None)
    for key in ("seats", "version"):
        if key in data:
            data[key] = int(data[key])
    return data
