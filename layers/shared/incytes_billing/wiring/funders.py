"""FundersFunction: links funders to their Stripe customers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.config import FundersConfig, config_reader
from incytes_billing.wiring import parts
from incytes_billing.wiring.stripe_on_first_use import stripe_on_first_use

if TYPE_CHECKING:
    from incytes_billing.domain.funders import FunderService


config = config_reader(FundersConfig)


def funder_service() -> FunderService:
    from incytes_billing.domain.funders import FunderService

    settings = config()
    return FunderService(
        parts.funder_repository(settings.funders_table),
        stripe_on_first_use(settings.stripe),  # only linking a funder looks its Stripe customer up
        audit=parts.audit_trail(settings.audit_table),
    )
