"""Composition root: builds services from adapters once per Lambda container (tests call `reset`).

Each function imports only what it uses (issue 12). This module imports at load what the functions using it
need on every request: boto3, the parameter store, settings, and the Stripe SDK with its gateway and the
funders table (all but the webhook use them; the webhook loads the Stripe SDK anyway, to verify signatures).
Every other factory imports its adapters and domain services itself: a function loads them when it first
assembles them, and what a route needs only sometimes (the event processor behind the subscriptions
function's review notice, the idempotency store) only on the request that needs it."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider

from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from mypy_boto3_dynamodb.service_resource import Table

    from incytes_billing.adapters.dynamodb_audit import DynamoDBAuditLog
    from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
    from incytes_billing.domain.audit import AuditHistory, AuditTrail
    from incytes_billing.domain.events import EventProcessor
    from incytes_billing.domain.finance import FinanceNotices
    from incytes_billing.domain.funders import FunderService
    from incytes_billing.domain.invoices import InvoiceReviewService
    from incytes_billing.domain.meter_errors import MeterErrorSettler
    from incytes_billing.domain.reconciliation import Reconciler
    from incytes_billing.domain.reporting import UsageReporter
    from incytes_billing.domain.subscriptions import SubscriptionService
    from incytes_billing.domain.webhooks import WebhookIngress
    from incytes_billing.models.catalog import CatalogConfig

# The Stripe key is re-read at most this often, so a rotated key is picked up without a redeploy.
SECRET_MAX_AGE_SECONDS = 300
LOCAL_API_BASE_URL = "http://127.0.0.1:3000"  # the local stack's API: where approve links point when nothing is set


@cache
def settings() -> Settings:
    return Settings.from_environment()


@cache
def _ssm() -> SSMProvider:
    return SSMProvider(boto3_client=boto3.client("ssm"))


@cache
def _gateway_for_key(api_key: str) -> StripeGateway:
    stripe_settings = settings().stripe
    return StripeGateway(build_stripe_client(api_key, stripe_settings), stripe_settings)


def stripe_gateway() -> StripeGateway:
    api_key = _ssm().get(settings().stripe_api_key_parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    return _gateway_for_key(str(api_key))


@cache
def _table(setting: str) -> Table:
    """The DynamoDB table named by a setting, built once per container."""
    return boto3.resource("dynamodb").Table(settings().require(setting))


def _funders_table() -> Table:
    return _table("funders_table_name")


def funder_repository() -> DynamoDBFunderRepository:
    return DynamoDBFunderRepository(_funders_table())


def funder_service() -> FunderService:
    from incytes_billing.domain.funders import FunderService

    return FunderService(funder_repository(), stripe_gateway(), audit=audit_trail())


def _audit_log() -> DynamoDBAuditLog:
    from incytes_billing.adapters.dynamodb_audit import DynamoDBAuditLog

    return DynamoDBAuditLog(_table("audit_table_name"))


def audit_trail() -> AuditTrail:
    from incytes_billing.domain.audit import AuditTrail

    return AuditTrail(_audit_log())


def audit_history() -> AuditHistory:
    from incytes_billing.domain.audit import AuditHistory

    return AuditHistory(_audit_log(), funder_repository())


@cache
def catalog() -> CatalogConfig:
    from incytes_billing.models.catalog import load_catalog

    return load_catalog()


def subscription_service() -> SubscriptionService:
    from incytes_billing.domain.subscriptions import SubscriptionService

    return SubscriptionService(
        funder_repository(), stripe_gateway(), catalog(), settings().subscriptions, audit=audit_trail()
    )


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    # Built on first use, not at import: it creates its boto3 client when constructed.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=settings().require("idempotency_table_name"))


def webhook_secrets() -> list[str]:
    """Current signing secret first, then those still valid during a rotation (comma-separated in SSM)."""
    value = _ssm().get(
        settings().require("stripe_webhook_secrets_parameter"), decrypt=True, max_age=SECRET_MAX_AGE_SECONDS
    )
    return [secret.strip() for secret in str(value).split(",") if secret.strip()]


@cache
def webhook_ingress() -> WebhookIngress:
    from incytes_billing.adapters.dynamodb_events import DynamoDBStripeEventStore
    from incytes_billing.adapters.sqs_queue import SqsEventQueue
    from incytes_billing.domain.webhooks import WebhookIngress

    events = DynamoDBStripeEventStore(_table("stripe_events_table_name"))
    return WebhookIngress(events, SqsEventQueue(boto3.client("sqs"), settings().require("stripe_events_queue_url")))


def event_processor() -> EventProcessor:
    """The same processor while the Stripe key is unchanged; a rotated key (seen once the parameter cache expires)
    gets a new one built on the new key's gateway."""
    return _event_processor_for(stripe_gateway())


@lru_cache(maxsize=1)  # only the current key's: one built for a rotated-out key is let go
def _event_processor_for(gateway: StripeGateway) -> EventProcessor:
    from incytes_billing.adapters.dynamodb_events import DynamoDBStripeEventStore
    from incytes_billing.adapters.dynamodb_invoices import DynamoDBInvoiceRepository
    from incytes_billing.domain.events import EventProcessor, FinanceSettings

    config = settings()
    return EventProcessor(
        events=DynamoDBStripeEventStore(_table("stripe_events_table_name")),
        funders=funder_repository(),
        invoices=DynamoDBInvoiceRepository(_table("invoices_table_name")),
        finance=finance_notices(),
        stripe=gateway,
        settings=FinanceSettings(api_base_url=config.api_base_url or LOCAL_API_BASE_URL),
        catalog=catalog(),
        # Only where the usage tables are configured (the webhook processor): meter error reports settle usage.
        meter_errors=_meter_error_settler(gateway) if config.usage_batches_table_name else None,
        unlinked_customer_grace_seconds=config.unlinked_customer_grace_seconds,
    )


def approval_base_url(domain_name: str | None, stage: str | None) -> str | None:
    """The base of the approve link in a notice sent while serving a request that reached the API at
    `domain_name`/`stage`; None - the configured API_BASE_URL, which wins when set. The template cannot give a
    function behind the API its API's URL: the API refers to the function, so that would be a dependency cycle."""
    if settings().api_base_url or not domain_name or not stage:
        return None
    return f"https://{domain_name}/{stage}"


def _meter_error_settler(gateway: StripeGateway) -> MeterErrorSettler:
    from incytes_billing.domain.meter_errors import MeterErrorSettler

    return MeterErrorSettler(usage_repository(), _batch_store(), gateway)


def _batch_store() -> DynamoDBMeterBatchStore:
    from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore

    return DynamoDBMeterBatchStore(_table("usage_batches_table_name"))


def invoice_review_service() -> InvoiceReviewService:
    from incytes_billing.adapters.dynamodb_invoices import DynamoDBInvoiceRepository
    from incytes_billing.domain.invoices import InvoiceReviewService

    return InvoiceReviewService(
        DynamoDBInvoiceRepository(_table("invoices_table_name")),
        funder_repository(),
        stripe_gateway(),
        audit=audit_trail(),
    )


def usage_reporter() -> UsageReporter:
    from incytes_billing.domain.reporting import UsageReporter

    return UsageReporter(
        usage_repository(),
        _batch_store(),
        funder_repository(),
        stripe_gateway(),
        catalog(),
        mode=settings().meter_event_mode,
        finance=finance_notices(),
    )


@cache
def finance_notices() -> FinanceNotices:
    from incytes_billing.adapters.dynamodb_notifications import DynamoDBNotificationClaims
    from incytes_billing.adapters.sns_finance import SnsFinanceNotifier
    from incytes_billing.domain.finance import FinanceNotices

    # Built once per container: the reporter and the reconciler are assembled on every invocation.
    config = settings()
    return FinanceNotices(
        DynamoDBNotificationClaims(_table("notifications_table_name")),
        SnsFinanceNotifier(boto3.client("sns"), config.require("finance_topic_arn")),
        claim_stale_seconds=config.notification_claim_stale_seconds,
    )


def usage_repository() -> DynamoDBUsageRepository:
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository

    return DynamoDBUsageRepository(_table("usage_table_name"))


def reconciler() -> Reconciler:
    from incytes_billing.domain.batch_checks import BatchChecker
    from incytes_billing.domain.reconciliation import Reconciler

    gateway = stripe_gateway()
    funders = funder_repository()
    checker = BatchChecker(
        usage=usage_repository(), batches=_batch_store(), funders=funders, meters=gateway, summaries=gateway
    )
    return Reconciler(
        batches=_batch_store(),
        checker=checker,
        funders=funders,
        meters=gateway,
        undelivered=gateway,
        ingress=webhook_ingress(),
        finance=finance_notices(),
        catalog=catalog(),
    )


def reset() -> None:
    """Forget every cached client and setting (tests switch environments between cases)."""
    for cached in (
        settings,
        _ssm,
        _gateway_for_key,
        _table,
        catalog,
        idempotency_store,
        webhook_ingress,
        _event_processor_for,
        finance_notices,
    ):
        cached.cache_clear()
