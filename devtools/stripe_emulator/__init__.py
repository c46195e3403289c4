"""A stateful Stripe API emulator for tests and the local stack (standard library only).

It speaks Stripe's wire protocol, so the real ``stripe.StripeClient`` runs unchanged against it::

    from stripe_emulator import StripeEmulator

    with StripeEmulator() as emulator:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": emulator.url})

Standalone: ``python -m stripe_emulator [--host H] [--port P]``. See README.md beside this file.
"""

from __future__ import annotations

from .app import DEFAULT_API_VERSION
from .client import EmulatorControl, EmulatorControlError
from .emulator import StripeEmulator

__all__ = ["DEFAULT_API_VERSION", "EmulatorControl", "EmulatorControlError", "StripeEmulator"]
