"""What billing the usage ledger takes (`UsageBillingConfig`): the usage reporter and the reconciler are built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from incytes_billing.wiring import parts
from incytes_billing.wiring.stripe_access import stripe_gateway

if TYPE_CHECKING:
    from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
    from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
    from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
    from incytes_billing.adapters.stripe_gateway import StripeGateway
    from incytes_billing.config import UsageBillingConfig
    from incytes_billing.domain.finance import FinanceNotices


class UsageBilling(NamedTuple):  # a NamedTuple: the cheapest record to define at cold start (issue 12 §1)
    usage: DynamoDBUsageRepository
    batches: DynamoDBMeterBatchStore
    funders: DynamoDBFunderRepository
    stripe: StripeGateway  # its meters, meter summaries and events
    finance: FinanceNotices


def usage_billing(config: UsageBillingConfig) -> UsageBilling:
    return UsageBilling(
        usage=parts.usage_repository(config.usage_table),
        batches=parts.batch_store(config.usage_batches_table),
        funders=parts.funder_repository(config.funders_table),
        stripe=stripe_gateway(config.stripe),
        finance=parts.finance_notices(config.finance),
    )
