"""UsageFunction: the usage ledger. Imports no `stripe` (cold start) and calls no Stripe API (inCytes must not
wait on Stripe): the reporter bills the ledger later."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from incytes_billing.config import UsageConfig, config_reader
from incytes_billing.wiring import parts

if TYPE_CHECKING:
    from incytes_billing.domain.usage import UsageLedger


config = config_reader(UsageConfig)


@cache
def usage_ledger() -> UsageLedger:
    from incytes_billing.domain.usage import UsageLedger

    settings = config()
    return UsageLedger(
        parts.usage_repository(settings.usage_table),
        parts.funder_repository(settings.funders_table),
        audit=parts.audit_trail(settings.audit_table),
    )
