"""A rotated Stripe key reaches the event processor and the review reminder within the parameter cache's lifetime,
without a cold start (issue 11 §6). Which key Stripe received is read from the emulator's request log (masked)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as parameter_cache

from incytes_billing.wiring.secrets import SECRET_MAX_AGE_SECONDS
from local_stack.template.intrinsics import resolve_parameters
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.support import EMULATOR_API_KEY, template

ROTATED_KEY = "sk_test_rotated_key_0002"


class ParameterCacheClock:
    """Moves the clock the parameter cache reads (Powertools' `datetime.now()`) forward, and only that clock."""

    offset = timedelta(0)

    @classmethod
    def advance(cls, seconds: int) -> None:
        cls.offset += timedelta(seconds=seconds)


@pytest.fixture
def cache_clock(monkeypatch: pytest.MonkeyPatch) -> type[ParameterCacheClock]:
    clock = ParameterCacheClock
    monkeypatch.setattr(clock, "offset", timedelta(0))

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + clock.offset

    monkeypatch.setattr(parameter_cache, "datetime", Later)
    return clock


def rotate_stripe_key(value: str) -> None:
    name = resolve_parameters(template(), {})["StripeApiKeyParameterName"]
    boto3.client("ssm").put_parameter(Name=f"/{name}", Value=value, Type="SecureString", Overwrite=True)


def keys_used(stripe_emulator: StripeEmulator) -> set[str]:
    """The (masked) keys of the Stripe requests since the log was last cleared; the log is cleared."""
    used = {str(entry["api_key"]) for entry in stripe_emulator.requests_log()}
    stripe_emulator.clear_requests_log()
    return used


def masked(key: str) -> str:
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def test_rotated_key_reaches_the_processor_and_the_review_reminder(
    subscribed: dict[str, Any],
    pipeline: Pipeline,
    stripe_emulator: StripeEmulator,
    cache_clock: type[ParameterCacheClock],
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    invoice_created = json.loads(pipeline.stripe_event("invoice.created", invoice_id))
    stripe_emulator.clear_requests_log()
    # Warm containers on the old key: the processor holds the first invoice, the reminder checks its hold.
    pipeline.deliver(json.dumps(invoice_created))
    pipeline.process()
    assert pipeline.invoke("ReviewReminderFunction", {"task": "check_holds"}) == {"missed": []}
    assert keys_used(stripe_emulator) == {masked(EMULATOR_API_KEY)}

    rotate_stripe_key(ROTATED_KEY)
    cache_clock.advance(SECRET_MAX_AGE_SECONDS + 1)

    # Another delivery about the same draft (a new event id): the processor checks its hold again on Stripe.
    pipeline.deliver(json.dumps({**invoice_created, "id": invoice_created["id"] + "again"}))
    pipeline.process()
    assert pipeline.event_status(invoice_created["id"] + "again") == "processed"
    assert pipeline.invoke("ReviewReminderFunction", {"task": "check_holds"}) == {"missed": []}
    assert keys_used(stripe_emulator) == {masked(ROTATED_KEY)}
