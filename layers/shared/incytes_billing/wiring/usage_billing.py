"""What billing the usage ledger takes (`UsageBillingConfig`): the usage reporter and the reconciler are built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.wiring import parts
from incytes_billing.wiring.stripe_access import stripe_gateway

if TYPE_CHECKING:
    from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
    from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
    from incytes_billing.adapters.stripe_gateway import StripeGateway
    from incytes_billing.config import UsageBillingConfig
    from incytes_billing.domain.finance import FinanceNotices

    UsageBilling = tuple[
        DynamoDBUsageRepository, DynamoDBMeterBatchStore, DynamoDBFunderRepository, StripeGateway, FinanceNotices
    ]


def usage_billing(config: UsageBillingConfig) -> UsageBilling:
    """The usage ledger, its meter batches, the funders, Stripe (meters, their summaries, events) and Finance's
    notices. A tuple, unpacked by its two callers: no record class to define at cold start (issue 12 §1)."""
    return (
        parts.usage_repository(config.usage_table),
        parts.batch_store(config.usage_batches_table),
        parts.funder_repository(config.funders_table),
        stripe_gateway(config.stripe),
        parts.finance_notices(config.finance),
    )
