"""Runtime configuration, read once from the environment the template (or the local stack) sets."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StripeSettings:
    api_base: str | None
    timeout_seconds: float
    max_network_retries: int
    # The SDK does not retry a 429 unless Stripe says so; the adapter backs off itself, this many times.
    rate_limit_attempts: int
    rate_limit_backoff_seconds: float


@dataclass(frozen=True, slots=True)
class Settings:
    funders_table_name: str
    stripe_api_key_parameter: str
    stripe: StripeSettings

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            funders_table_name=env["FUNDERS_TABLE_NAME"],
            stripe_api_key_parameter=env["STRIPE_API_KEY_PARAMETER"],
            stripe=StripeSettings(
                api_base=env.get("STRIPE_API_BASE") or None,
                timeout_seconds=float(env.get("STRIPE_TIMEOUT_SECONDS", "8")),
                max_network_retries=int(env.get("STRIPE_MAX_NETWORK_RETRIES", "2")),
                rate_limit_attempts=int(env.get("STRIPE_RATE_LIMIT_ATTEMPTS", "3")),
                rate_limit_backoff_seconds=float(env.get("STRIPE_RATE_LIMIT_BACKOFF_SECONDS", "0.5")),
            ),
        )
