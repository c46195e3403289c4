"""Verifying Stripe webhook deliveries with the SDK, against the raw body and any of several secrets.

The SDK rejects only old timestamps; a timestamp far in the future is rejected here too, so a captured
delivery cannot be replayed later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache

import stripe

from incytes_billing.adapters.eventbridge_events import THIN_EVENT_OBJECT, created_epoch
from incytes_billing.domain.stripe_limits import WEBHOOK_SIGNATURE_TOLERANCE_SECONDS
from incytes_billing.errors import InvalidPayload, InvalidSignature
from incytes_billing.models.events import VerifiedEvent

# A Stripe-Signature `t` is a unix time: ASCII digits only (str.isdigit() takes "²", which int() refuses), and
# few of them (int() of thousands of digits is refused too, and costs time).
SIGNED_AT = re.compile(r"[0-9]{1,12}")
# What a hostile but correctly signed body can make the JSON parser or the SDK raise: a 400, never a 500.
MALFORMED_BODY_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError)


@cache
def _thin_event_parser() -> stripe.StripeClient:
    # parse_event_notification lives on the client; verifying needs no API key and makes no call.
    return stripe.StripeClient("sk_webhook_verification_only")


def _signed_at(signature_header: str) -> int:
    for part in signature_header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and SIGNED_AT.fullmatch(value):
            return int(value)
    raise InvalidSignature("The Stripe-Signature header has no timestamp.")


def _matching_secret(payload: str, signature_header: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature_header, secret, WEBHOOK_SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            continue
        return secret
    raise InvalidSignature("The Stripe-Signature does not match this endpoint's signing secrets, or has expired.")


def verify_event(payload: str, signature_header: str | None, secrets: Sequence[str], *, now: float) -> VerifiedEvent:
    if not signature_header:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    if _signed_at(signature_header) > now + WEBHOOK_SIGNATURE_TOLERANCE_SECONDS:
        raise InvalidSignature("The Stripe-Signature timestamp is in the future.")
    secret = _matching_secret(payload, signature_header, secrets)
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as error:
        raise InvalidPayload("The webhook body is not JSON (or is nested too deep).") from error
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise InvalidPayload("The webhook body is not a Stripe event.")
    try:
        return _parsed(body, payload, signature_header, secret)
    except MALFORMED_BODY_ERRORS as error:
        raise InvalidPayload("The webhook body is not a well-formed Stripe event.") from error


def _parsed(body: dict[str, object], payload: str, signature_header: str, secret: str) -> VerifiedEvent:
    if body.get("object") == THIN_EVENT_OBJECT:
        notification = _thin_event_parser().parse_event_notification(payload, signature_header, secret)
        created = body.get("created")
        return VerifiedEvent(
            event_id=notification.id,
            type=notification.type,
            created=created_epoch(created),
            kind="thin",
            livemode=bool(body.get("livemode", False)),
            api_version=None,
            payload=payload,
        )
    if body.get("object") != "event":
        raise InvalidPayload("The webhook body is not a Stripe event.")
    event = stripe.Webhook.construct_event(payload, signature_header, secret, WEBHOOK_SIGNATURE_TOLERANCE_SECONDS)
    return VerifiedEvent(
        event_id=event.id,
        type=event.type,
        created=int(event.created),
        kind="snapshot",
        livemode=bool(event.livemode),
        api_version=getattr(event, "api_version", None),
        payload=payload,
    )
