"""NotificationClaims on the DynamoDB NotificationsTable (key: notification_key)."""

from __future__ import annotations

from incytes_billing.adapters.dynamodb_items import DynamoDBTableAdapter
from incytes_billing.models.notifications import ClaimOutcome


class DynamoDBNotificationClaims(DynamoDBTableAdapter):
    def claim(self, key: str, *, now: int, stale_after: int) -> ClaimOutcome:
        # New, or claimed long ago by a worker that died before publishing: take it.
        if self._update_if(
            {"notification_key": key},
            "SET claimed_at = :now",
            condition=(
                "attribute_not_exists(notification_key) OR (attribute_not_exists(published_at) AND claimed_at < :stale)"
            ),
            values={":now": now, ":stale": now - stale_after},
        ):
            return "claimed"
        item = self._table.get_item(Key={"notification_key": key}, ConsistentRead=True).get("Item") or {}
        return "published" if "published_at" in item else "in_flight"

    def mark_published(self, key: str, *, now: int) -> None:
        self._table.update_item(
            Key={"notification_key": key},
            UpdateExpression="SET published_at = :now",
            ExpressionAttributeValues={":now": now},
        )
