"""`python -m incytes_billing.catalog` (also `make catalog`).

Without STRIPE_API_KEY it targets the local Stripe emulator (on LOCAL_HOST:STRIPE_EMULATOR_PORT, the local
stack's settings, 127.0.0.1:12111 by default; STRIPE_API_BASE overrides); with a test key, Stripe's test mode;
a live key needs --allow-live.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from incytes_billing.errors import BillingError
from incytes_billing.models.catalog import CATALOG_FILE
from incytes_billing.wiring.catalog_sync import run_catalog_sync

EMULATOR_API_KEY = "sk_test_emulator"
# The local stack's defaults and variables for where its emulator listens (devtools/local_stack StackSettings).
EMULATOR_HOST = "127.0.0.1"
EMULATOR_PORT = 12111


def emulator_api_base(environ: Mapping[str, str]) -> str:
    """The local emulator's URL, from the same variables the local stack listens by."""
    host = environ.get("LOCAL_HOST") or EMULATOR_HOST
    return f"http://{host}:{environ.get('STRIPE_EMULATOR_PORT') or EMULATOR_PORT}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m incytes_billing.catalog", description=__doc__)
    parser.add_argument("--config", type=Path, default=CATALOG_FILE, help="catalog file (default: %(default)s)")
    parser.add_argument("--allow-live", action="store_true", help="permit a live-mode Stripe key")
    args = parser.parse_args(argv)

    api_key = os.environ.get("STRIPE_API_KEY") or EMULATOR_API_KEY
    default_base = emulator_api_base(os.environ) if api_key == EMULATOR_API_KEY else None
    api_base = os.environ.get("STRIPE_API_BASE") or default_base
    if api_key.startswith(("sk_live_", "rk_live_")) and not args.allow_live:
        print("Refusing to change a live Stripe account without --allow-live.", file=sys.stderr)
        return 2
    target = api_base or "api.stripe.com"
    try:
        changes = run_catalog_sync(api_key, api_base, args.config)
    except BillingError as error:
        print(f"Catalog sync against {target} failed: {error.message}", file=sys.stderr)
        return 1
    for change in changes:
        print(change)
    print(f"Catalog at {target}: {len(changes)} change(s)" + ("" if changes else ", already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
