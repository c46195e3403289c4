"""The Stripe gateway of a function that calls Stripe: one per key, so a rotated key gets a new client."""

from __future__ import annotations

from functools import cache

from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeAccess, StripeSettings
from incytes_billing.wiring.secrets import secret


@cache
def gateway_for_key(api_key: str, settings: StripeSettings) -> StripeGateway:
    return StripeGateway(build_stripe_client(api_key, settings), settings)


def stripe_gateway(access: StripeAccess) -> StripeGateway:
    return gateway_for_key(secret(access.api_key_parameter), access.client)
