"""The event processor: applies stored Stripe events (the webhook processor), announces first invoices (the
subscriptions function's create path) and keeps drafts held (the review reminder)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from incytes_billing.wiring import parts
from incytes_billing.wiring.aws import table
from incytes_billing.wiring.stripe_on_first_use import stripe_on_first_use

if TYPE_CHECKING:
    from incytes_billing.adapters.stripe_gateway import StripeGateway
    from incytes_billing.config import EventsConfig
    from incytes_billing.domain.event_processor import EventProcessor
    from incytes_billing.domain.meter_errors import MeterErrorSettler


MeterErrorTables = tuple[str, str]  # (usage table, usage batches table): meter error reports settle usage


@lru_cache(maxsize=1)  # one per container: each function asks for one configuration
def event_processor(config: EventsConfig, meter_errors: MeterErrorTables | None = None) -> EventProcessor:
    """The processor, built once. Its Stripe gateway is loaded by the first event that calls Stripe (most are
    applied from their payload alone), and each call uses the current key's: a rotated key is used once the
    parameter cache expires."""
    from incytes_billing.adapters.dynamodb_events import DynamoDBStripeEventStore
    from incytes_billing.adapters.dynamodb_invoices import DynamoDBInvoiceRepository
    from incytes_billing.domain.event_processor import EventProcessor, FinanceSettings

    gateway = stripe_on_first_use(config.stripe)
    return EventProcessor(
        events=DynamoDBStripeEventStore(table(config.events_table)),
        funders=parts.funder_repository(config.funders_table),
        invoices=DynamoDBInvoiceRepository(table(config.invoices_table)),
        finance=parts.finance_notices(config.finance),
        stripe=gateway,
        settings=FinanceSettings(api_base_url=config.default_approval_base_url),
        catalog=parts.catalog(),
        meter_errors=_meter_error_settler(gateway, *meter_errors) if meter_errors else None,
        unlinked_customer_grace_seconds=config.unlinked_customer_grace_seconds,
    )


def _meter_error_settler(gateway: StripeGateway, usage_table: str, batches_table: str) -> MeterErrorSettler:
    from incytes_billing.domain.meter_errors import MeterErrorSettler

    return MeterErrorSettler(parts.usage_repository(usage_table), parts.batch_store(batches_table), gateway)
