"""Fixtures for the Stripe emulator's own tests.

Every behaviour test takes ``target`` and runs against the emulator (started once per session on a free
port, reset before each test) and, when ``STRIPE_API_KEY`` holds a Stripe test-mode key, against Stripe
itself: the emulator is the project's test oracle, and anyone with a key can prove it faithful with
``STRIPE_API_KEY=sk_test_... pytest tests/emulator``. Tests that need the emulator's controls (faults,
clock, request log) take ``emulator`` instead and run against the emulator only.

Objects made on Stripe persist, so names are unique per test (``uid``) and the ``make`` factory archives
or deletes what it created.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.receiver import Receiver
from tests.emulator.support import Factory, Target, live_stripe_key, make_client
from tests.support import EMULATOR_API_KEY


@pytest.fixture
def emulator(stripe_emulator: StripeEmulator) -> StripeEmulator:
    """The session's emulator (tests/conftest.py), reset for this test."""
    stripe_emulator.reset()
    return stripe_emulator


@pytest.fixture(params=["emulator", pytest.param("stripe", marks=pytest.mark.stripe_live)])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "emulator":
        emulator: StripeEmulator = request.getfixturevalue("emulator")
        return Target("emulator", EMULATOR_API_KEY, emulator.url, emulator)
    key = live_stripe_key()
    if key is None:
        pytest.skip("STRIPE_API_KEY does not hold a Stripe test-mode key (sk_test_...)")
    return Target("stripe", key, None, None)


@pytest.fixture
def client(target: Target) -> stripe.StripeClient:
    return target.client()


@pytest.fixture
def emulator_client(emulator: StripeEmulator) -> stripe.StripeClient:
    return make_client(EMULATOR_API_KEY, emulator.url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free port (emulator delivery tests)."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def uid() -> str:
    """A name unique to this test run, for lookup keys, event names, emails and product ids."""
    return "emu_" + secrets.token_hex(6)


@pytest.fixture
def make(client: stripe.StripeClient, uid: str) -> Iterator[Factory]:
    factory = Factory(client, uid)
    yield factory
    factory.undo()
