"""Runtime configuration, read once from the environment the template (or the local stack) sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast, get_args

from incytes_billing.domain.policy import (
    COLLECTION_METHODS,
    PRORATION_BEHAVIORS,
    UNLINKED_CUSTOMER_GRACE_SECONDS,
    SubscriptionPolicy,
)
from incytes_billing.models.stripe import MeterEventMode


@dataclass(frozen=True, slots=True)
class StripeSettings:
    api_base: str | None
    timeout_seconds: float
    max_network_retries: int
    # The SDK does not retry a 429 unless Stripe says so; the adapter backs off itself, this many times.
    rate_limit_attempts: int
    rate_limit_backoff_seconds: float
    # Time kept back from the invocation's deadline to store the outcome and answer; Stripe calls stop before.
    answer_margin_seconds: float = 3.0
    # A write whose attempt failed (5xx, connection, idempotency conflict) is tried again this many times in all.
    write_attempts: int = 3


@dataclass(frozen=True, slots=True)
class Settings:
    funders_table_name: str
    stripe_api_key_parameter: str
    stripe: StripeSettings
    subscriptions: SubscriptionPolicy
    # Set only for the functions that use them (see template.yaml).
    idempotency_table_name: str | None
    stripe_events_table_name: str | None
    stripe_events_queue_url: str | None
    stripe_webhook_secrets_parameter: str | None
    invoices_table_name: str | None
    notifications_table_name: str | None
    finance_topic_arn: str | None
    # Where Finance's messages point for approvals; None - not configured (see wiring.approval_base_url).
    api_base_url: str | None
    notification_claim_stale_seconds: int
    usage_table_name: str | None
    usage_batches_table_name: str | None
    meter_event_mode: MeterEventMode
    # Events about a customer no funder has are retried this long, then recorded `ignored`.
    unlinked_customer_grace_seconds: int
    audit_table_name: str | None = None  # the functions that record billing actions (and InvoicesFunction)

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
                answer_margin_seconds=float(env.get("STRIPE_ANSWER_MARGIN_SECONDS", "3")),
                write_attempts=int(env.get("STRIPE_WRITE_ATTEMPTS", "3")),
            ),
            subscriptions=SubscriptionPolicy(
                collection_method=_choice(env, "SUBSCRIPTION_COLLECTION_METHOD", "send_invoice", COLLECTION_METHODS),
                days_until_due=int(env.get("SUBSCRIPTION_DAYS_UNTIL_DUE", "30")),
                proration_behavior=_choice(
                    env, "SUBSCRIPTION_PRORATION_BEHAVIOR", "create_prorations", PRORATION_BEHAVIORS
                ),
                automatic_tax=env.get("SUBSCRIPTION_AUTOMATIC_TAX", "false").lower() == "true",
            ),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME") or None,
            stripe_events_table_name=env.get("STRIPE_EVENTS_TABLE_NAME") or None,
            stripe_events_queue_url=env.get("STRIPE_EVENTS_QUEUE_URL") or None,
            stripe_webhook_secrets_parameter=env.get("STRIPE_WEBHOOK_SECRETS_PARAMETER") or None,
            invoices_table_name=env.get("INVOICES_TABLE_NAME") or None,
            notifications_table_name=env.get("NOTIFICATIONS_TABLE_NAME") or None,
            finance_topic_arn=env.get("FINANCE_TOPIC_ARN") or None,
            api_base_url=env.get("API_BASE_URL") or None,
            notification_claim_stale_seconds=int(env.get("NOTIFICATION_CLAIM_STALE_SECONDS", "300")),
            usage_table_name=env.get("USAGE_TABLE_NAME") or None,
            usage_batches_table_name=env.get("USAGE_BATCHES_TABLE_NAME") or None,
            meter_event_mode=cast("MeterEventMode", _choice(env, "METER_EVENT_MODE", "sync", get_args(MeterEventMode))),
            unlinked_customer_grace_seconds=int(
                env.get("UNLINKED_CUSTOMER_GRACE_SECONDS", str(UNLINKED_CUSTOMER_GRACE_SECONDS))
            ),
            audit_table_name=env.get("AUDIT_TABLE_NAME") or None,
        )

    def require(self, name: str) -> str:
        """A setting only some functions have; its absence is a deployment error, named clearly."""
        value = getattr(self, name)
        if not value:
            raise RuntimeError(f"{name.upper()} is not configured for this function (template.yaml)")
        return str(value)


def _choice(env: os._Environ[str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value
