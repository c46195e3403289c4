"""UsageReporterFunction: reports the usage ledger to Stripe meters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.config import UsageReporterConfig, config_reader
from incytes_billing.wiring import parts
from incytes_billing.wiring.stripe_access import stripe_gateway

if TYPE_CHECKING:
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
    from incytes_billing.domain.reporting import UsageReporter


config = config_reader(UsageReporterConfig)


def usage_repository() -> DynamoDBUsageRepository:
    return parts.usage_repository(config().billing.usage_table)


def usage_reporter() -> UsageReporter:
    from incytes_billing.domain.reporting import UsageReporter

    settings = config()
    billing = settings.billing
    return UsageReporter(
        usage_repository(),
        parts.batch_store(billing.usage_batches_table),
        parts.funder_repository(billing.funders_table),
        stripe_gateway(billing.stripe),
        parts.catalog(),
        mode=settings.meter_event_mode,
        finance=parts.finance_notices(billing.finance),
    )
