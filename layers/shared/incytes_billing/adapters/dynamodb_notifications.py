"""NotificationClaims on the DynamoDB NotificationsTable (key: notification_key)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from incytes_billing.adapters.dynamodb_items import is_conditional_check_failure
from incytes_billing.models.notifications import ClaimOutcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class DynamoDBNotificationClaims:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(self, key: str, *, now: int, stale_after: int) -> ClaimOutcome:
        try:
            # New, or claimed long ago by a worker that died before publishing: take it.
            self._table.update_item(
                Key={"notification_key": key},
                UpdateExpression="SET claimed_at = :now",
                ConditionExpression=(
                    "attribute_not_exists(notification_key) OR "
                    "(attribute_not_exists(published_at) AND claimed_at < :stale)"
                ),
                ExpressionAttributeValues={":now": now, ":stale": now - stale_after},
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise
            item = self._table.get_item(Key={"notification_key": key}, ConsistentRead=True).get("Item") or {}
            return "published" if "published_at" in item else "in_flight"
        return "claimed"

    def mark_published(self, key: str, *, now: int) -> None:
        self._table.update_item(
            Key={"notification_key": key},
            UpdateExpression="SET published_at = :now",
            ExpressionAttributeValues={":now": now},
        )
