"""UsageReporterFunction: reports the usage ledger to Stripe meters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.config import UsageReporterConfig, config_reader
from incytes_billing.wiring import parts
from incytes_billing.wiring.usage_billing import usage_billing

if TYPE_CHECKING:
    from incytes_billing.domain.reporting import UsageReporter


config = config_reader(UsageReporterConfig)


def usage_reporter() -> UsageReporter:
    from incytes_billing.domain.reporting import UsageReporter

    settings = config()
    usage, batches, funders, stripe, finance = usage_billing(settings.billing)
    return UsageReporter(
        usage, batches, funders, stripe, parts.catalog(), mode=settings.meter_event_mode, finance=finance
    )
