"""SubscriptionsFunction: the funder's subscription; its create path also announces the first invoice."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from incytes_billing.config import SubscriptionsConfig, config_reader
from incytes_billing.wiring import events, parts
from incytes_billing.wiring.stripe_access import stripe_gateway

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from incytes_billing.domain.event_processor import EventProcessor
    from incytes_billing.domain.subscriptions import SubscriptionService


config = config_reader(SubscriptionsConfig)


def subscription_service() -> SubscriptionService:
    from incytes_billing.domain.subscriptions import SubscriptionService

    settings = config()
    return SubscriptionService(
        parts.funder_repository(settings.events.funders_table),
        stripe_gateway(settings.events.stripe),
        parts.catalog(),
        settings.policy,
        audit=parts.audit_trail(settings.audit_table),
    )


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    # Built on first use, not at import: it creates its boto3 client when constructed.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=config().idempotency_table)


def event_processor() -> EventProcessor:
    return events.event_processor(config().events)


def approval_base_url(domain_name: str | None, stage: str | None) -> str:
    return config().events.approval_base_url(domain_name, stage)
