"""Each function imports at init only what it uses (issue 12 §1-2; `make bench` measures the cost): the
composition root's shared builders load no domain service and no adapter beyond the Stripe gateway until one is
called, and the usage ingest path loads no Stripe SDK. Each handler is imported in a fresh process,
with its code directory first on sys.path as on Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOADED = """\
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""
# What every function calling Stripe needs on every request, loaded with the shared builders.
WIRING_ADAPTERS = {"incytes_billing.adapters.stripe_gateway"}


# Model modules that build pydantic models (or, `models.stripe`, eight frozen dataclasses) at import, which no
# function needs at init only because it calls Stripe or reads its settings: the gateway and settings load none of
# them (catalog sync, invoice lines, usage and the Stripe objects import theirs where used).
GATEWAY_DEFERRED_MODELS = {
    "incytes_billing.models.catalog",
    "incytes_billing.models.invoice",
    "incytes_billing.models.stripe",
    "incytes_billing.models.stripe_events",
    "incytes_billing.models.subscription",
    "incytes_billing.models.usage",
}


@cache  # several tests ask the same import of the same process: one fresh process answers them all
def loaded_by(module: str, code_dir: Path | None = None) -> frozenset[str]:
    paths = [str(p) for p in (code_dir, ROOT / "layers" / "shared") if p is not None]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", LOADED.format(module=module)],
        capture_output=True,
        text=True,
        env=env,
        cwd=code_dir or ROOT,
        check=True,
        timeout=60,
    )
    return frozenset(json.loads(result.stdout))


@pytest.mark.parametrize(
    "module", ["incytes_billing.wiring.parts", "incytes_billing.wiring.events", "incytes_billing.wiring.stripe_access"]
)
def test_the_shared_builders_load_no_domain_service_and_only_the_stripe_gateway(module: str) -> None:
    loaded = loaded_by(module)
    # The policies the settings carry (plain values, standard library only) are the domain they may load.
    domain_policies = {"incytes_billing.domain", "incytes_billing.domain.policy"}
    assert {m for m in loaded if m.startswith("incytes_billing.domain")} <= domain_policies
    assert {m for m in loaded if m.startswith("incytes_billing.adapters.")} <= WIRING_ADAPTERS
    assert "aws_lambda_powertools.utilities.idempotency" not in loaded


@pytest.mark.parametrize(
    ("function", "absent"),
    [
        # Only linking a funder looks up its Stripe customer: the SDK and the key are loaded then.
        (
            "funders",
            {
                "incytes_billing.domain.event_processor",
                "incytes_billing.domain.reconciliation",
                "stripe",
                "incytes_billing.wiring.stripe_access",
            },
        ),
        # Only approving an invoice calls Stripe: listing and reading them loads no Stripe SDK and reads no key.
        (
            "invoices",
            {
                "incytes_billing.domain.event_processor",
                "incytes_billing.domain.reporting",
                "stripe",
                "incytes_billing.wiring.stripe_access",
            },
        ),
        # The review notice's event processor is needed only by a create that leaves a first invoice pending, the
        # idempotency utility (and its DynamoDB persistence layer) only by a create that sends an Idempotency-Key;
        # the invoice models by neither (the first invoice is recorded on the funder).
        (
            "subscriptions",
            {
                "incytes_billing.domain.event_processor",
                "incytes_billing.domain.reporting",
                "aws_lambda_powertools.utilities.idempotency",
                "incytes_billing.models.invoice",
            },
        ),
        # Most events are applied from their payload: Stripe is loaded by the first one that calls it; the event
        # records and the ports with the processor, by the first message.
        (
            "webhook_processor",
            {
                "stripe",
                "incytes_billing.wiring.stripe_access",
                "incytes_billing.wiring.secrets",
                "incytes_billing.models.events",
            },
        ),
        ("review_reminder", {"stripe", "incytes_billing.wiring.stripe_access", "incytes_billing.wiring.secrets"}),
        # The webhook verifies signatures offline and calls no Stripe API: no gateway, no Stripe key.
        (
            "webhook",
            {
                "incytes_billing.domain.event_processor",
                "incytes_billing.adapters.dynamodb_invoices",
                "incytes_billing.adapters.stripe_gateway",
            },
        ),
        ("reconciler", {"incytes_billing.domain.event_processor", "incytes_billing.adapters.dynamodb_invoices"}),
        ("usage", {"stripe", "incytes_billing.wiring.stripe_access", "incytes_billing.wiring.secrets"}),
    ],
)
def test_a_handler_loads_what_it_uses(function: str, absent: set[str]) -> None:
    assert loaded_by("app", ROOT / "functions" / function) & absent == set()


@pytest.mark.parametrize("module", ["incytes_billing.adapters.stripe_gateway", "incytes_billing.config"])
def test_the_stripe_gateway_and_settings_build_no_model_they_do_not_use(module: str) -> None:
    assert loaded_by(module) & GATEWAY_DEFERRED_MODELS == set()


@pytest.mark.parametrize(
    "function",
    ["funders", "subscriptions", "invoices", "webhook", "webhook_processor", "review_reminder", "reconciler"],
)
def test_a_function_that_neither_syncs_the_catalog_nor_takes_usage_loads_neither_model(function: str) -> None:
    absent = {"incytes_billing.models.catalog", "incytes_billing.models.stripe_events", "incytes_billing.models.usage"}
    assert loaded_by("app", ROOT / "functions" / function) & absent == set()


@pytest.mark.parametrize(
    "function", ["webhook", "webhook_processor", "usage_reporter", "review_reminder", "reconciler"]
)
def test_the_webhook_and_the_workers_load_no_pydantic_at_init(function: str) -> None:
    # Their handlers validate nothing at init; the first pydantic model class costs ~40 ms of CPU, paid by the
    # request that first needs a model (`make bench` floors these functions without pydantic). The caller record
    # `invocation` keeps is a dataclass for this reason.
    assert {m for m in loaded_by("app", ROOT / "functions" / function) if m.split(".")[0] == "pydantic"} == set()


@pytest.mark.parametrize("function", ["invoices", "usage"])
def test_an_api_builds_the_audit_models_when_it_first_records_or_reads_an_entry(function: str) -> None:
    absent = {"incytes_billing.models.audit", "incytes_billing.models.funder", "incytes_billing.models.invoice"}
    assert loaded_by("app", ROOT / "functions" / function) & absent == set()


def test_the_subscription_service_builds_no_invoice_model() -> None:
    # Its requests record the first invoice on the funder (models.subscription): none of them, not only its init,
    # builds the invoice models the invoices API and the event processor use.
    assert "incytes_billing.models.invoice" not in loaded_by("incytes_billing.domain.subscriptions")
