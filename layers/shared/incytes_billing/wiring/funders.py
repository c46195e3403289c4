"""FundersFunction: links funders to their Stripe customers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from incytes_billing.config import FundersConfig, StripeAccess, config_reader
from incytes_billing.wiring import parts

if TYPE_CHECKING:
    from incytes_billing.domain.funders import FunderService
    from incytes_billing.models.stripe import StripeCustomer


config = config_reader(FundersConfig)


@dataclass(frozen=True, slots=True)
class StripeCustomersOnFirstUse:
    """Stripe's customers, reached when a request first looks one up (linking a funder): reading a funder loads no
    Stripe SDK and reads no Stripe key (issue 12 §1: what a route needs only sometimes is loaded when first used)."""

    access: StripeAccess

    def get_customer(self, customer_id: str) -> StripeCustomer | None:
        from incytes_billing.wiring.stripe_access import stripe_gateway

        return stripe_gateway(self.access).get_customer(customer_id)


def funder_service() -> FunderService:
    from incytes_billing.domain.funders import FunderService

    settings = config()
    return FunderService(
        parts.funder_repository(settings.funders_table),
        StripeCustomersOnFirstUse(settings.stripe),
        audit=parts.audit_trail(settings.audit_table),
    )
