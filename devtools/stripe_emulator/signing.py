"""Stripe's webhook signature scheme, written out independently of the SDK (which is what gets verified).

`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the endpoint secret>`
(https://docs.stripe.com/webhooks#verify-manually). Several `v1` entries may appear during secret rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(payload: str, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.{payload}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: str, *secrets: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` value with one `v1` per secret (as Stripe sends while a secret rotates)."""
    at = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={at}", *(f"v1={signature(payload, secret, at)}" for secret in secrets)])
