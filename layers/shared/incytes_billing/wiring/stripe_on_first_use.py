"""The Stripe gateway of a function that calls Stripe on some requests only, loaded by the first call.

Reading a funder, listing invoices and most Stripe events need no Stripe API call: their function loads neither the
Stripe SDK, the gateway nor the parameter store at init, and reads no Stripe key until a request calls Stripe (issue
12 §1: what a route needs only sometimes is loaded when first used). A function that calls Stripe on every request
takes `stripe_access.stripe_gateway` instead, loaded at init.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from incytes_billing.adapters.stripe_gateway import StripeGateway
    from incytes_billing.config import StripeAccess


class StripeOnFirstUse:
    """Stands for the gateway: each call goes to the current key's (`stripe_access.stripe_gateway`), so a rotated
    key is used once the parameter cache has expired, as by a gateway built for each request."""

    def __init__(self, access: StripeAccess) -> None:
        self._access = access

    def __getattr__(self, name: str) -> Any:
        from incytes_billing.wiring.stripe_access import stripe_gateway

        return getattr(stripe_gateway(self._access), name)


@cache  # one per configuration: the builders that cache what they make on it keep one too
def stripe_on_first_use(access: StripeAccess) -> StripeGateway:
    return cast("StripeGateway", StripeOnFirstUse(access))
