"""InvoiceRepository on the DynamoDB InvoicesTable (key: invoice_id; index by_review_status)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from incytes_billing.errors import ConcurrentUpdate
from incytes_billing.models.invoice import InvoiceRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

REVIEW_INDEX = "by_review_status"


class DynamoDBInvoiceRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        item = self._table.get_item(Key={"invoice_id": invoice_id}, ConsistentRead=True).get("Item")
        return None if item is None else InvoiceRecord.model_validate(_plain(item))

    def save(self, invoice: InvoiceRecord, *, expected_version: int | None) -> None:
        item = {key: value for key, value in invoice.model_dump(mode="json").items() if value is not None}
        try:
            if expected_version is None:
                self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(invoice_id)")
            else:
                self._table.put_item(
                    Item=item,
                    ConditionExpression="version = :expected",
                    ExpressionAttributeValues={":expected": expected_version},
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(f"Invoice {invoice.invoice_id} changed concurrently.") from error
            raise

    def pending_review(self) -> list[InvoiceRecord]:
        records: list[InvoiceRecord] = []
        query: dict[str, Any] = {
            "IndexName": REVIEW_INDEX,
            "KeyConditionExpression": Key("review_status").eq("pending"),
        }
        while True:
            page = self._table.query(**query)
            records.extend(InvoiceRecord.model_validate(_plain(item)) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return records
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; every number this table stores is an integer."""
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return int(value) if isinstance(value, Decimal) else value
