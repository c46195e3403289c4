"""Each function's configuration, typed, read once from the environment its template (or the local stack) gives it.

One dataclass per function (`FundersConfig`, ..., `ReconcilerConfig`), built from the parts several share
(`StripeAccess`, `FinanceConfig`, `EventsConfig`, `UsageBillingConfig`). Each field names the variable it is
read from (`text("FUNDERS_TABLE_NAME")`, `integer(..., default)`) or the part it is (`part(StripeAccess)`).
Every field is what the function uses; a variable it needs and lacks fails its first request naming the
variable. `tests/infra/test_function_config.py` loads each one from the function's environment in template.yaml,
and fails when the template gives a function a variable it never reads.
Standard library only: every function reads this module at cold start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache, partial
from typing import Any, Protocol, Self, cast, get_args

from incytes_billing.domain.policy import (
    COLLECTION_METHODS,
    PRORATION_BEHAVIORS,
    UNLINKED_CUSTOMER_GRACE_SECONDS,
    MeterEventMode,
    SubscriptionPolicy,
)

# Where approve links point when no API_BASE_URL is set and no request tells: the local stack's API.
LOCAL_API_BASE_URL = "http://127.0.0.1:3000"


class Configuration(Protocol):
    @classmethod
    def from_environment(cls, env: Environment) -> Self: ...


def load_config[ConfigT: Configuration](kind: type[ConfigT], environ: Mapping[str, str] = os.environ) -> ConfigT:
    """A function's configuration, from the environment Lambda (or the local stack) gives it."""
    return kind.from_environment(Environment(environ))


def config_reader[ConfigT: Configuration](kind: type[ConfigT]) -> Callable[[], ConfigT]:
    """The function's configuration, read on first use and kept for the container's life."""
    return cache(partial(load_config, kind))


class MissingSetting(RuntimeError):
    """A deployment error: the template does not give the function a variable it needs."""


class Environment:
    """Typed reads of a function's environment variables; remembers every name read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.names_read: set[str] = set()

    def _get(self, name: str) -> str | None:
        self.names_read.add(name)
        return self._values.get(name) or None

    def text(self, name: str) -> str:
        value = self._get(name)
        if value is None:
            raise MissingSetting(f"{name} is not configured for this function (template.yaml)")
        return value

    def optional_text(self, name: str) -> str | None:
        return self._get(name)

    def integer(self, name: str, default: int) -> int:
        value = self._get(name)
        return default if value is None else int(value)

    def number(self, name: str, default: float) -> float:
        value = self._get(name)
        return default if value is None else float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self._get(name)
        return default if value is None else value.lower() == "true"

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self._get(name) or default
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        return value


_READ = "read"  # a field's metadata: how its value is read from the environment


def derived(read: Callable[[Environment], object]) -> Any:
    """A field read by `read` (one variable, or a value built from several, such as a domain policy). Any: declared
    as `name: str = text("NAME")`, the field's type is its annotation."""
    return field(metadata={_READ: read})


def text(name: str) -> Any:
    return derived(lambda env: env.text(name))


def optional_text(name: str) -> Any:
    return derived(lambda env: env.optional_text(name))


def integer(name: str, default: int) -> Any:
    return derived(lambda env: env.integer(name, default))


def names_in(listed: str | None) -> frozenset[str]:
    """The names in a comma-separated list (blanks ignored)."""
    return frozenset(name.strip() for name in (listed or "").split(",") if name.strip())


def part(kind: type[Configuration]) -> Any:
    return derived(kind.from_environment)


class Settings:
    """Base of the configurations below: each field says how it is read (`text`, `integer`, `part`, ...).

    Plain dataclasses, built once per container and never assigned to: a frozen one with slots costs ~1.2 ms of
    CPU to define, a plain one ~0.4 ms, and every cold start defines all of them (issue 12 §1). `eq=False` keeps
    hashing by identity, which the builders' caches key on."""

    @classmethod
    def from_environment(cls, env: Environment) -> Self:
        return cls(**{f.name: f.metadata[_READ](env) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(eq=False)
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

    @classmethod
    def from_environment(cls, env: Environment) -> Self:
        return cls(
            api_base=env.optional_text("STRIPE_API_BASE"),
            timeout_seconds=env.number("STRIPE_TIMEOUT_SECONDS", 8),
            max_network_retries=env.integer("STRIPE_MAX_NETWORK_RETRIES", 2),
            rate_limit_attempts=env.integer("STRIPE_RATE_LIMIT_ATTEMPTS", 3),
            rate_limit_backoff_seconds=env.number("STRIPE_RATE_LIMIT_BACKOFF_SECONDS", 0.5),
            answer_margin_seconds=env.number("STRIPE_ANSWER_MARGIN_SECONDS", 3),
            write_attempts=env.integer("STRIPE_WRITE_ATTEMPTS", 3),
        )


@dataclass(eq=False)
class StripeAccess(Settings):
    """A function that calls Stripe: where its key is kept (SSM, re-read as it rotates) and how the client behaves."""

    api_key_parameter: str = text("STRIPE_API_KEY_PARAMETER")
    client: StripeSettings = part(StripeSettings)


@dataclass(eq=False)
class FinanceConfig(Settings):
    """Finance's notices: each claimed once in the notifications table, then published to the topic."""

    notifications_table: str = text("NOTIFICATIONS_TABLE_NAME")
    topic_arn: str = text("FINANCE_TOPIC_ARN")
    claim_stale_seconds: int = integer("NOTIFICATION_CLAIM_STALE_SECONDS", 300)


@dataclass(eq=False)
class EventsConfig(Settings):
    """Applying Stripe events (the processor): the stored events, the invoices under review, Finance's notices."""

    funders_table: str = text("FUNDERS_TABLE_NAME")
    events_table: str = text("STRIPE_EVENTS_TABLE_NAME")
    invoices_table: str = text("INVOICES_TABLE_NAME")
    stripe: StripeAccess = part(StripeAccess)
    finance: FinanceConfig = part(FinanceConfig)
    # The base of approve links in Finance's notices; None - not configured (see `approval_base_url`).
    api_base_url: str | None = optional_text("API_BASE_URL")
    # Events about a customer no funder has are retried this long, then recorded `ignored`.
    unlinked_customer_grace_seconds: int = integer("UNLINKED_CUSTOMER_GRACE_SECONDS", UNLINKED_CUSTOMER_GRACE_SECONDS)

    @property
    def default_approval_base_url(self) -> str:
        """Where approve links point when no request tells (the processor, the scheduled functions)."""
        return self.api_base_url or LOCAL_API_BASE_URL

    def approval_base_url(self, domain_name: str | None, stage: str | None) -> str:
        """The base of the approve link in a notice sent while serving a request that reached the API at
        `domain_name`/`stage`. A configured API_BASE_URL (a custom domain) wins. The template cannot give a
        function behind the API its API's URL: the API refers to the function, so that would be a cycle."""
        if self.api_base_url or not domain_name or not stage:
            return self.default_approval_base_url
        return f"https://{domain_name}/{stage}"


@dataclass(eq=False)
class UsageBillingConfig(Settings):
    """Billing the usage ledger through Stripe meters (the reporter), and checking it (the reconciler)."""

    funders_table: str = text("FUNDERS_TABLE_NAME")
    usage_table: str = text("USAGE_TABLE_NAME")
    usage_batches_table: str = text("USAGE_BATCHES_TABLE_NAME")
    stripe: StripeAccess = part(StripeAccess)
    finance: FinanceConfig = part(FinanceConfig)


def _subscription_policy(env: Environment) -> SubscriptionPolicy:
    return SubscriptionPolicy(
        collection_method=env.choice("SUBSCRIPTION_COLLECTION_METHOD", "send_invoice", COLLECTION_METHODS),
        days_until_due=env.integer("SUBSCRIPTION_DAYS_UNTIL_DUE", 30),
        proration_behavior=env.choice("SUBSCRIPTION_PRORATION_BEHAVIOR", "create_prorations", PRORATION_BEHAVIORS),
        automatic_tax=env.flag("SUBSCRIPTION_AUTOMATIC_TAX", False),
    )


def _meter_event_mode(env: Environment) -> MeterEventMode:
    return cast("MeterEventMode", env.choice("METER_EVENT_MODE", "sync", get_args(MeterEventMode)))


# One configuration per function ------------------------------------------------------------------------------


@dataclass(eq=False)
class FundersConfig(Settings):
    funders_table: str = text("FUNDERS_TABLE_NAME")
    audit_table: str = text("AUDIT_TABLE_NAME")
    stripe: StripeAccess = part(StripeAccess)


@dataclass(eq=False)
class SubscriptionsConfig(Settings):
    audit_table: str = text("AUDIT_TABLE_NAME")
    idempotency_table: str = text("IDEMPOTENCY_TABLE_NAME")
    policy: SubscriptionPolicy = derived(_subscription_policy)
    # The funders table and Stripe, and what the create path needs to announce the first invoice itself.
    events: EventsConfig = part(EventsConfig)


@dataclass(eq=False)
class InvoicesConfig(Settings):
    funders_table: str = text("FUNDERS_TABLE_NAME")
    invoices_table: str = text("INVOICES_TABLE_NAME")
    audit_table: str = text("AUDIT_TABLE_NAME")
    stripe: StripeAccess = part(StripeAccess)


@dataclass(eq=False)
class UsageConfig(Settings):
    """The usage ingest path: no Stripe access at all (inCytes must not wait on Stripe)."""

    funders_table: str = text("FUNDERS_TABLE_NAME")
    usage_table: str = text("USAGE_TABLE_NAME")
    audit_table: str = text("AUDIT_TABLE_NAME")


@dataclass(eq=False)
class WebhookConfig(Settings):
    """The webhook: no Stripe API calls (the ack path stores and queues); the signing secrets live in SSM."""

    webhook_secrets_parameter: str = text("STRIPE_WEBHOOK_SECRETS_PARAMETER")
    events_table: str = text("STRIPE_EVENTS_TABLE_NAME")
    events_queue_url: str = text("STRIPE_EVENTS_QUEUE_URL")


@dataclass(eq=False)
class WebhookProcessorConfig(Settings):
    events: EventsConfig = part(EventsConfig)
    # Meter error reports settle the usage they name.
    usage_table: str = text("USAGE_TABLE_NAME")
    usage_batches_table: str = text("USAGE_BATCHES_TABLE_NAME")
    events_queue_url: str = text("STRIPE_EVENTS_QUEUE_URL")  # a deferred message's visibility is set on it
    retry_base_seconds: int = integer("STRIPE_EVENT_RETRY_BASE_SECONDS", 10)  # doubles with each receive
    # EventBridge ingress (StripeEventIngress eventbridge or both): the partner event sources whose events are
    # applied (comma-separated; empty: the webhook only), and the AWS account of their buses.
    event_sources: frozenset[str] = derived(lambda env: names_in(env.optional_text("STRIPE_EVENT_SOURCE_NAMES")))
    events_aws_account: str = text("STRIPE_EVENTS_AWS_ACCOUNT")


@dataclass(eq=False)
class ReviewReminderConfig(Settings):
    events: EventsConfig = part(EventsConfig)
    reminder_days: int = integer("REVIEW_REMINDER_DAYS", 2)  # drafts pending longer are reminded daily


@dataclass(eq=False)
class UsageReporterConfig(Settings):
    billing: UsageBillingConfig = part(UsageBillingConfig)
    meter_event_mode: MeterEventMode = derived(_meter_event_mode)


@dataclass(eq=False)
class ReconcilerConfig(Settings):
    billing: UsageBillingConfig = part(UsageBillingConfig)
    # Undelivered events are replayed through the webhook's own ingress (stored, then queued).
    events_table: str = text("STRIPE_EVENTS_TABLE_NAME")
    events_queue_url: str = text("STRIPE_EVENTS_QUEUE_URL")
    # The archives of the Stripe partner buses (StripeEventIngress eventbridge or both; comma-separated): a replay
    # run of the reconciler replays a window of them.
    event_archives: frozenset[str] = derived(lambda env: names_in(env.optional_text("STRIPE_EVENT_ARCHIVE_NAMES")))
