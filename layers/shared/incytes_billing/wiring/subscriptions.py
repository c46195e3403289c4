"""SubscriptionsFunction: the funder's subscription; its create path also announces the first invoice."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from incytes_billing.config import SubscriptionsConfig, config_reader
from incytes_billing.wiring import events, parts
from incytes_billing.wiring.stripe_access import stripe_gateway

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

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


# The idempotency utility is loaded by the first create that sends an Idempotency-Key, not at init: its package
# imports its DynamoDB persistence layer (and boto3's DynamoDB types), which no other request needs (issue 12 §1).
@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    # It creates its boto3 client when constructed.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=config().idempotency_table)


@cache
def idempotency_config() -> IdempotencyConfig:
    """A retried click with the same Idempotency-Key within a day gets the first answer back: keyed by the funder
    and the key; the seats and currency must be the first request's."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(
        event_key_jmespath="[funder_id, idempotency_key]",
        payload_validation_jmespath="[seats, currency]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=24 * 60 * 60,
    )


def once_per_key[R](create: Callable[[dict[str, Any]], R]) -> Callable[..., R]:
    """`create(request)`, answered once per key in `request` (`idempotency_config`)."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    once: Callable[..., R] = idempotent_function(
        data_keyword_argument="request", persistence_store=idempotency_store(), config=idempotency_config()
    )(create)
    return once


def idempotency_refusals() -> tuple[type[Exception], type[Exception]]:
    """How the idempotency utility refuses a repeated key: its first request is still being served; its first
    request had another body."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    return IdempotencyAlreadyInProgressError, IdempotencyValidationError


def event_processor() -> EventProcessor:
    return events.event_processor(config().events)


def approval_base_url(domain_name: str | None, stage: str | None) -> str:
    return config().events.approval_base_url(domain_name, stage)
