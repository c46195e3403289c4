"""The Stripe gateway notes the `Request-Id` of every Stripe response for the invocation being served (the audit
trail records them): successes, refusals and retried throttles alike, in order; a new invocation starts afresh.

Stripe facts: every API response carries a `Request-Id` header naming the request in Stripe's logs
(https://docs.stripe.com/api/request_ids).
"""

from __future__ import annotations

import stripe

from incytes_billing import invocation
from stripe_emulator import StripeEmulator
from tests.integration.test_stripe_gateway import gateway_for


def test_every_response_of_the_invocation_is_noted_in_order(
    stripe_api: str, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    gateway, _ = gateway_for(stripe_api)
    customer = stripe_client.v1.customers.create({"name": "Noted"})
    stripe_emulator.clear_requests_log()
    stripe_emulator.inject_fault(path_prefix="/v1/customers", status=429, count=1)
    current = invocation.begin(None)
    try:
        assert gateway.get_customer(customer.id) is not None  # a 429 backed off, then the customer
        assert gateway.get_customer("cus_Unknown") is None  # a 404
        served = [entry["request_id"] for entry in stripe_emulator.requests_log()]
        assert len(served) == 3
        assert all(request_id.startswith("req_") for request_id in served)
        assert current.stripe_request_ids == served
        assert invocation.begin(None).stripe_request_ids == []
    finally:
        invocation.begin(None)
