"""The catalog synchronizer on Stripe (the CLI, `make catalog`, and the local stack at start)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from incytes_billing.config import StripeSettings
from incytes_billing.domain.catalog import CatalogSynchronizer
from incytes_billing.models.catalog import CATALOG_FILE, load_catalog
from incytes_billing.wiring.stripe_access import gateway_for_key

# An operator's command, not an API call: it can afford patience.
CLI_STRIPE_SETTINGS = StripeSettings(
    api_base=None,
    timeout_seconds=30,
    max_network_retries=3,
    rate_limit_attempts=5,
    rate_limit_backoff_seconds=1,
)


def run_catalog_sync(api_key: str, api_base: str | None, config_path: Path = CATALOG_FILE) -> list[str]:
    """Apply the catalog file to the Stripe account behind `api_key`; answer the changes made."""
    gateway = gateway_for_key(api_key, replace(CLI_STRIPE_SETTINGS, api_base=api_base))
    return CatalogSynchronizer(gateway, load_catalog(config_path)).sync()
