"""FunderRepository on the DynamoDB FundersTable (key: funder_id)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from incytes_billing.errors import ConcurrentUpdate
from incytes_billing.models.funder import Funder

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


CUSTOMER_INDEX = "by_stripe_customer"


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
    # A top-level None is left out (a GSI key attribute may not be null; absent reads back as None).
    return {key: value for key, value in funder.model_dump(mode="json").items() if value is not None}


def _from_item(item: dict[str, Any]) -> Any:
    """DynamoDB numbers come back as Decimal; every number this table stores is an integer."""
    if isinstance(item, dict):
        return {key: _from_item(inner) for key, inner in item.items()}
    if isinstance(item, list):
        return [_from_item(inner) for inner in item]
    if isinstance(item, Decimal):
        return int(item)
    return item
