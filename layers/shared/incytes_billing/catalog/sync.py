"""Wires the catalog synchronizer to Stripe (used by the CLI and by the local stack at start)."""

from __future__ import annotations

from pathlib import Path

from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeSettings
from incytes_billing.domain.catalog import CatalogSynchronizer
from incytes_billing.models.catalog import CATALOG_FILE, load_catalog

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
    settings = StripeSettings(
        api_base=api_base,
        timeout_seconds=CLI_STRIPE_SETTINGS.timeout_seconds,
        max_network_retries=CLI_STRIPE_SETTINGS.max_network_retries,
        rate_limit_attempts=CLI_STRIPE_SETTINGS.rate_limit_attempts,
        rate_limit_backoff_seconds=CLI_STRIPE_SETTINGS.rate_limit_backoff_seconds,
    )
    gateway = StripeGateway(build_stripe_client(api_key, settings), settings)
    return CatalogSynchronizer(gateway, load_catalog(config_path)).sync()
