"""Each function's typed configuration (incytes_billing/config.py) loads from exactly the environment template.yaml
gives it: nothing it needs is missing (a deploy would fail the first request), and nothing it is given goes unread
(a setting someone changes would do nothing)."""

from __future__ import annotations

import pytest

from incytes_billing.config import (
    Configuration,
    Environment,
    FundersConfig,
    InvoicesConfig,
    MissingSetting,
    ReconcilerConfig,
    ReviewReminderConfig,
    SubscriptionsConfig,
    UsageConfig,
    UsageReporterConfig,
    WebhookConfig,
    WebhookProcessorConfig,
)
from local_stack.template.functions import function_environment, function_ids
from tests.support import template

CONFIG_OF: dict[str, type[Configuration]] = {
    "FundersFunction": FundersConfig,
    "SubscriptionsFunction": SubscriptionsConfig,
    "InvoicesFunction": InvoicesConfig,
    "UsageFunction": UsageConfig,
    "WebhookFunction": WebhookConfig,
    "WebhookProcessorFunction": WebhookProcessorConfig,
    "ReviewReminderFunction": ReviewReminderConfig,
    "UsageReporterFunction": UsageReporterConfig,
    "ReconcilerFunction": ReconcilerConfig,
}
# Read by Powertools itself, not by our configuration.
RUNTIME_LIBRARY_PREFIX = "POWERTOOLS_"


def environment_of(function: str) -> dict[str, str]:
    resources = {logical_id: logical_id for logical_id in template()["Resources"]}
    return function_environment(template(), function, resources)


def test_every_function_has_a_configuration() -> None:
    assert set(CONFIG_OF) == set(function_ids(template()))


@pytest.mark.parametrize("function", sorted(CONFIG_OF))
def test_the_configuration_loads_from_the_template_and_reads_all_it_is_given(function: str) -> None:
    given = environment_of(function)
    env = Environment(given)
    CONFIG_OF[function].from_environment(env)  # raises MissingSetting naming what the template lacks
    ours = {name for name in given if not name.startswith(RUNTIME_LIBRARY_PREFIX)}
    assert ours - env.names_read == set(), f"{function} is given variables it never reads"


def test_a_missing_variable_is_named() -> None:
    given = environment_of("UsageFunction")
    del given["USAGE_TABLE_NAME"]
    with pytest.raises(MissingSetting, match="USAGE_TABLE_NAME is not configured"):
        UsageConfig.from_environment(Environment(given))


def test_a_choice_outside_its_values_is_refused() -> None:
    given = {**environment_of("SubscriptionsFunction"), "SUBSCRIPTION_COLLECTION_METHOD": "cash"}
    with pytest.raises(ValueError, match="SUBSCRIPTION_COLLECTION_METHOD must be one of"):
        SubscriptionsConfig.from_environment(Environment(given))
