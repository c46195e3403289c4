"""InvoiceRepository on the DynamoDB InvoicesTable (key: invoice_id; index by_review_status)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

from incytes_billing.adapters.dynamodb_items import every_item, plain_numbers, put_versioned, to_item
from incytes_billing.models.invoice import InvoiceRecord, ReviewStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

REVIEW_INDEX = "by_review_status"


class DynamoDBInvoiceRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        item = self._table.get_item(Key={"invoice_id": invoice_id}, ConsistentRead=True).get("Item")
        return None if item is None else InvoiceRecord.model_validate(plain_numbers(item))

    def save(self, invoice: InvoiceRecord, *, expected_version: int | None) -> None:
        put_versioned(self._table, to_item(invoice), key="invoice_id", expected_version=expected_version)

    def with_review_status(self, review_status: ReviewStatus) -> list[InvoiceRecord]:
        condition = Key("review_status").eq(review_status)
        items = every_item(self._table.query, IndexName=REVIEW_INDEX, KeyConditionExpression=condition)
        return [InvoiceRecord.model_validate(plain_numbers(item)) for item in items]
