"""Catalog bootstrap: `python -m incytes_billing.catalog` makes Stripe match catalog.toml."""
