"""Reading the EventBridge events Stripe's event destinations put on our partner event bus, as the bus's rule
hands them to the events queue: the whole EventBridge event is the message body.

The envelope (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html) carries the
partner event source as `source`, the event type as `detail-type` and the Stripe event as `detail`, exactly as a
webhook delivery's body: a snapshot `event`, or a thin `v2.core.event` notification
(https://docs.stripe.com/event-destinations/eventbridge; stripe-python's `construct_event_without_verification`
unwraps the same `detail`). There is no signature: EventBridge vouches for the source, and the processor checks it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from incytes_billing.errors import InvalidPayload
from incytes_billing.models.events import EventBridgeDelivery, VerifiedEvent

THIN_EVENT_OBJECT = "v2.core.event"


def parse_eventbridge_delivery(body: str) -> EventBridgeDelivery:
    """The delivery in a queued EventBridge event; InvalidPayload when it is not one, or its detail is not a Stripe
    event (never applied, never retried)."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidPayload("The queued message is not JSON.") from error
    if not isinstance(envelope, dict):
        raise InvalidPayload("The queued message is not an EventBridge event.")
    source, account, detail = envelope.get("source"), envelope.get("account"), envelope.get("detail")
    if not isinstance(source, str) or not isinstance(account, str) or not isinstance(detail, dict):
        raise InvalidPayload("The queued message is not an EventBridge event (source, account, detail).")
    return EventBridgeDelivery(source=source, account=account, event=stripe_event(detail))


def stripe_event(detail: dict[str, Any]) -> VerifiedEvent:
    event_id, event_type, kind = detail.get("id"), detail.get("type"), detail.get("object")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or kind not in ("event", THIN_EVENT_OBJECT):
        raise InvalidPayload("The EventBridge event's detail is not a Stripe event.")
    api_version = detail.get("api_version")
    return VerifiedEvent(
        event_id=event_id,
        type=event_type,
        created=created_epoch(detail.get("created")),
        kind="thin" if kind == THIN_EVENT_OBJECT else "snapshot",
        livemode=bool(detail.get("livemode", False)),
        api_version=api_version if isinstance(api_version, str) else None,
        payload=json.dumps(detail),  # what a webhook delivery's body would have been
    )


def created_epoch(created: object) -> int:
    """Snapshot events carry a unix time `created`; thin events RFC 3339."""
    if isinstance(created, int) and not isinstance(created, bool):
        return created
    if isinstance(created, str):
        try:
            return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
    raise InvalidPayload("The Stripe event has no valid `created` time.")
