"""The policies domain services are given, with their defaults and allowed values.

`config.py` fills them from the environment the template sets; the domain owns their meaning. No imports beyond
the standard library: every function's configuration reads this module at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How usage reaches Stripe: v1 meter events (validated synchronously) or the v2 meter event stream (asynchronously).
MeterEventMode = Literal["sync", "stream"]
COLLECTION_METHODS = ("send_invoice", "charge_automatically")
PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


@dataclass(frozen=True, slots=True)
class SubscriptionPolicy:
    """How the one-click subscription is made and changed (template parameters)."""

    collection_method: str  # send_invoice | charge_automatically
    days_until_due: int  # send_invoice only
    proration_behavior: str  # create_prorations | none | always_invoice
    automatic_tax: bool
    # How long a creation attempt holds the funder; longer than the function's timeout, so a crash frees it.
    claim_seconds: int = 60


# How long an event about a customer no funder has is retried before it is recorded `ignored` (the Stripe account
# bills others too). The webhook can beat our own write of the link (PUT /funders, or the subscription being
# created), which ends within API Gateway's 29 s; five minutes leave room for a client's retry of that request,
# and the processor's backoff (10 s, 20 s, ... doubling) still retries five times inside them, well before the
# dead-letter queue's tenth receive.
UNLINKED_CUSTOMER_GRACE_SECONDS = 5 * 60
