"""Builders several functions share. Each imports its adapters and domain service itself, when first called."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from incytes_billing.wiring.aws import table

if TYPE_CHECKING:
    from incytes_billing.adapters.dynamodb_audit import DynamoDBAuditLog
    from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
    from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
    from incytes_billing.adapters.sqs_queue import SqsEventQueue
    from incytes_billing.config import FinanceConfig
    from incytes_billing.domain.audit import AuditTrail
    from incytes_billing.domain.finance import FinanceNotices
    from incytes_billing.models.catalog import CatalogConfig


def funder_repository(table_name: str) -> DynamoDBFunderRepository:
    from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository

    return DynamoDBFunderRepository(table(table_name))


def audit_log(table_name: str) -> DynamoDBAuditLog:
    from incytes_billing.adapters.dynamodb_audit import DynamoDBAuditLog

    return DynamoDBAuditLog(table(table_name))


def audit_trail(table_name: str) -> AuditTrail:
    from incytes_billing.domain.audit import AuditTrail

    return AuditTrail(audit_log(table_name))


def usage_repository(table_name: str) -> DynamoDBUsageRepository:
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository

    return DynamoDBUsageRepository(table(table_name))


def batch_store(table_name: str) -> DynamoDBMeterBatchStore:
    from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore

    return DynamoDBMeterBatchStore(table(table_name))


def event_queue(queue_url: str) -> SqsEventQueue:
    """The Stripe events queue: the webhook and the reconciler's replay send to it, the processor delays on it."""
    import boto3

    from incytes_billing.adapters.sqs_queue import SqsEventQueue

    return SqsEventQueue(boto3.client("sqs"), queue_url)


@cache
def catalog() -> CatalogConfig:
    from incytes_billing.models.catalog import load_catalog

    return load_catalog()


@cache  # once per container: the reporter and the reconciler are assembled on every invocation
def finance_notices(config: FinanceConfig) -> FinanceNotices:
    import boto3

    from incytes_billing.adapters.dynamodb_notifications import DynamoDBNotificationClaims
    from incytes_billing.adapters.sns_finance import SnsFinanceNotifier
    from incytes_billing.domain.finance import FinanceNotices

    return FinanceNotices(
        DynamoDBNotificationClaims(table(config.notifications_table)),
        SnsFinanceNotifier(boto3.client("sns"), config.topic_arn),
        claim_stale_seconds=config.claim_stale_seconds,
    )
