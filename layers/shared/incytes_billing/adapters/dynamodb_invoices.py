"""InvoiceRepository on the DynamoDB InvoicesTable (key: invoice_id; index by_review_status)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from incytes_billing.adapters.dynamodb_items import DynamoDBTableAdapter, put_versioned, to_item
from incytes_billing.models.invoice import InvoiceRecord, ReviewStatus

REVIEW_INDEX = "by_review_status"


class DynamoDBInvoiceRepository(DynamoDBTableAdapter):
    def get(self, invoice_id: str) -> InvoiceRecord | None:
        return self._read(InvoiceRecord, {"invoice_id": invoice_id})

    def save(self, invoice: InvoiceRecord, *, expected_version: int | None) -> None:
        put_versioned(self._table, to_item(invoice), key="invoice_id", expected_version=expected_version)

    def with_review_status(self, review_status: ReviewStatus) -> list[InvoiceRecord]:
        condition = Key("review_status").eq(review_status)
        return self._query(InvoiceRecord, IndexName=REVIEW_INDEX, KeyConditionExpression=condition)
