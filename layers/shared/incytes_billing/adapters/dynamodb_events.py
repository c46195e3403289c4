"""StripeEventStore on the DynamoDB StripeEventsTable (key: event_id)."""

from __future__ import annotations

import time
from typing import cast

from aws_lambda_powertools import Logger

from incytes_billing.adapters.dynamodb_items import DynamoDBTableAdapter
from incytes_billing.models.events import EventKind, EventStatus, StoredEvent, VerifiedEvent, envelope_of

# Events are kept well past Stripe's 3 days of retries and 30 days of events.list, then expire (TTL).
RETENTION_SECONDS = 90 * 24 * 3600
# DynamoDB refuses an item over 400 KB (409,600 bytes: attribute names plus values, a string counted as its UTF-8
# bytes). The payload is measured alone, as UTF-8 bytes, against a bound well under the limit: the item's other
# attributes (ids, type, status, timestamps, requeue_after set later) stay under 1 KB, and the margin leaves room
# for them whatever they become. A larger event is stored as its envelope (models.events.envelope_of): the
# processor re-fetches the rest from Stripe by the event's id.
MAX_STORED_PAYLOAD_BYTES = 350_000

logger = Logger(child=True)


def storable_payload(payload: str) -> str:
    """The payload as it is stored: whole when it fits in an item, else its envelope (marked payload_omitted)."""
    return payload if len(payload.encode()) <= MAX_STORED_PAYLOAD_BYTES else envelope_of(payload)


class DynamoDBStripeEventStore(DynamoDBTableAdapter):
    def insert(self, event: VerifiedEvent, *, received_at: int) -> bool:
        payload = storable_payload(event.payload)
        if payload is not event.payload:
            logger.info("stripe event stored without its payload: too large", extra={"event_id": event.event_id})
        return self._put_new(
            {
                "event_id": event.event_id,
                "type": event.type,
                "created": event.created,
                "kind": event.kind,
                "livemode": event.livemode,
                "api_version": event.api_version or "",
                "payload": payload,
                "status": "received",
                "received_at": received_at,
                "expires_at": received_at + RETENTION_SECONDS,
            },
            key="event_id",
        )

    def get(self, event_id: str) -> StoredEvent | None:
        item = self._table.get_item(Key={"event_id": event_id}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return StoredEvent(
            event_id=event_id,
            type=str(item["type"]),
            created=int(item["created"]),  # type: ignore[arg-type]
            kind=cast("EventKind", item["kind"]),
            status=cast("EventStatus", item["status"]),
            payload=str(item["payload"]),
        )

    def mark(self, event_id: str, status: EventStatus) -> None:
        # Not when already marked by a concurrent worker: the outcome is recorded either way.
        self._update_if(
            {"event_id": event_id},
            "SET #s = :status, processed_at = :now",
            condition="#s = :received",
            values={":status": status, ":received": "received", ":now": int(time.time())},
        )

    def claim_requeue(self, event_id: str, *, now: int, until: int) -> bool:
        # False when applied already, or handed off recently (by this delivery's twin).
        return self._update_if(
            {"event_id": event_id},
            "SET requeue_after = :until",
            condition="#s = :received AND (attribute_not_exists(requeue_after) OR requeue_after <= :now)",
            values={":until": until, ":now": now, ":received": "received"},
        )

    def hold_requeue(self, event_id: str, *, until: int) -> None:
        # Not when there is no such event (expired): nothing to hold.
        self._update_if(
            {"event_id": event_id},
            "SET requeue_after = :until",
            condition="attribute_exists(event_id)",
            values={":until": until},
        )
