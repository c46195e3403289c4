"""EventBridge ingress: Stripe's event destinations put events on our partner event bus; its rule queues each one
for the processor. Before an event is applied it is checked and stored by its Stripe id, as a webhook delivery is:
the same event arriving by both paths (StripeEventIngress=both) is stored once and applied once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incytes_billing.domain.clock import TimedService
from incytes_billing.errors import ForeignEvent, ValidationFailed
from incytes_billing.models.events import EventBridgeDelivery
from incytes_billing.ports import EventArchive, StripeEventStore


@dataclass(eq=False)
class EventBridgeIngress(TimedService):
    events: StripeEventStore
    sources: frozenset[str]  # the partner event sources of our Stripe event destinations (none: webhook only)
    account: str  # the AWS account whose bus the rule listens on

    def accept(self, delivery: EventBridgeDelivery) -> str:
        """The stored event's id (stored now, or by an earlier delivery on either path)."""
        if delivery.source not in self.sources:
            raise ForeignEvent(f"source {delivery.source!r} is not one of this stack's Stripe event sources")
        if delivery.account != self.account:
            raise ForeignEvent(f"account {delivery.account!r} is not this stack's account")
        self.events.insert(delivery.event, received_at=int(self.clock().timestamp()))
        return delivery.event.event_id


@dataclass(eq=False)
class ArchiveReplay(TimedService):
    """Replays a window of the Stripe bus's archives (the reconciler, run by hand: docs/webhooks.md). Events that
    were applied already are applied once still; events lost after EventBridge had them (a target's DLQ, a message
    dead-lettered by the processor) are applied now."""

    archives: EventArchive
    archive_names: frozenset[str]  # one per partner bus (none: not the EventBridge ingress)

    def replay(self, start: datetime, end: datetime) -> list[str]:
        if not self.archive_names:
            raise ValidationFailed("This stack has no EventBridge archive to replay (StripeEventIngress=webhook).")
        if start.tzinfo is None or end.tzinfo is None:
            raise ValidationFailed("from and to need a UTC offset (RFC 3339).")
        if not start < end <= self.clock():
            raise ValidationFailed("The replay window must run forward from `from` to `to`, and end by now.")
        return [self.archives.replay(name, start, end) for name in sorted(self.archive_names)]
