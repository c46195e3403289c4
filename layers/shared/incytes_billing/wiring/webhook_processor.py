"""WebhookProcessorFunction: applies the stored Stripe events, and settles usage named by meter error reports."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from incytes_billing.config import WebhookProcessorConfig, config_reader
from incytes_billing.wiring import events, parts

if TYPE_CHECKING:
    from incytes_billing.adapters.sqs_queue import SqsEventQueue
    from incytes_billing.domain.event_processor import EventProcessor


config = config_reader(WebhookProcessorConfig)


def event_processor() -> EventProcessor:
    settings = config()
    return events.event_processor(settings.events, (settings.usage_table, settings.usage_batches_table))


@cache
def event_queue() -> SqsEventQueue:
    return parts.event_queue(config().events_queue_url)
