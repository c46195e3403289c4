"""WebhookProcessorFunction: applies the stored Stripe events, and settles usage named by meter error reports."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from incytes_billing.config import WebhookProcessorConfig, config_reader
from incytes_billing.wiring import events, parts

if TYPE_CHECKING:
    from incytes_billing.adapters.sqs_queue import SqsEventQueue
    from incytes_billing.domain.event_processor import EventProcessor
    from incytes_billing.domain.eventbridge import EventBridgeIngress


config = config_reader(WebhookProcessorConfig)


def event_processor() -> EventProcessor:
    settings = config()
    return events.event_processor(settings.events, (settings.usage_table, settings.usage_batches_table))


@cache
def event_queue() -> SqsEventQueue:
    return parts.event_queue(config().events_queue_url)


@cache
def eventbridge_ingress() -> EventBridgeIngress:
    """Stores an event that came through EventBridge by its id before it is applied (as the webhook does)."""
    from incytes_billing.adapters.dynamodb_events import DynamoDBStripeEventStore
    from incytes_billing.domain.eventbridge import EventBridgeIngress
    from incytes_billing.wiring.aws import table

    settings = config()
    store = DynamoDBStripeEventStore(table(settings.events.events_table))
    return EventBridgeIngress(store, settings.event_sources, settings.events_aws_account)


def store_eventbridge_event(body: str) -> str:
    """A queued EventBridge event, checked and stored: its Stripe event's id (InvalidPayload or ForeignEvent when
    refused). Loaded with the first one: a webhook-only stack never does."""
    from incytes_billing.adapters.eventbridge_events import parse_eventbridge_delivery

    return eventbridge_ingress().accept(parse_eventbridge_delivery(body))
