"""WebhookFunction: verifies, stores and queues Stripe's events; calls no Stripe API."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from incytes_billing.config import WebhookConfig, config_reader
from incytes_billing.wiring import parts
from incytes_billing.wiring.aws import table
from incytes_billing.wiring.secrets import secret

if TYPE_CHECKING:
    from incytes_billing.domain.webhooks import WebhookIngress


config = config_reader(WebhookConfig)


def webhook_secrets() -> list[str]:
    """Current signing secret first, then those still valid during a rotation (comma-separated in SSM)."""
    value = secret(config().webhook_secrets_parameter)
    return [part.strip() for part in value.split(",") if part.strip()]


@cache
def webhook_ingress() -> WebhookIngress:
    settings = config()
    return ingress(settings.events_table, settings.events_queue_url)


def ingress(events_table: str, queue_url: str) -> WebhookIngress:
    """Stores an event by its id, then queues it for the processor (also the reconciler's replay path)."""
    from incytes_billing.adapters.dynamodb_events import DynamoDBStripeEventStore
    from incytes_billing.domain.webhooks import WebhookIngress

    return WebhookIngress(DynamoDBStripeEventStore(table(events_table)), parts.event_queue(queue_url))
