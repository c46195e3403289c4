"""Fault injection, and how the SDK reacts to it (emulator only).

Stripe's rate limits answer 429 (https://docs.stripe.com/rate-limits); the SDK retries a 429 only when
Stripe sends ``Stripe-Should-Retry: true`` (lock timeouts), and retries connection errors, 409 and 5xx
(https://docs.stripe.com/error-low-level, stripe-python ``_http_client._should_retry``).
"""

from __future__ import annotations

import time

import pytest
import requests
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import error_of, make_client
from tests.support import EMULATOR_API_KEY


@pytest.fixture(autouse=True)
def fast_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SDK's retry back-off short (0.5 s at least otherwise): these tests count requests."""
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0.02)


def statuses(emulator: StripeEmulator) -> list[int]:
    return [entry["status"] for entry in emulator.requests_log()]


def test_429_without_retries_is_a_rate_limit_error(emulator: StripeEmulator) -> None:
    """A 429 raises ``RateLimitError`` (https://docs.stripe.com/rate-limits#handling-limiting-gracefully)."""
    emulator.inject_fault("/v1/customers", status=429)
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=0)
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.customers.list()
    assert caught.value.http_status == 429
    assert error_of(caught.value)["code"] == "rate_limit"  # the SDK leaves `code` off RateLimitError
    assert error_of(caught.value)["type"] == "invalid_request_error"
    assert statuses(emulator) == [429]


def test_sdk_does_not_retry_a_plain_429(emulator: StripeEmulator) -> None:
    """Without ``Stripe-Should-Retry: true`` the SDK does not retry a 429, even with retries on: callers
    back off themselves (https://docs.stripe.com/rate-limits)."""
    emulator.inject_fault("/v1/customers", status=429)
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=2)
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    assert statuses(emulator) == [429]


def test_sdk_retries_a_429_marked_should_retry(emulator: StripeEmulator) -> None:
    """With ``Stripe-Should-Retry: true`` and retries on, the SDK retries and succeeds
    (https://docs.stripe.com/error-low-level)."""
    emulator.inject_fault("/v1/customers", method="POST", status=429, should_retry=True)
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=2)
    assert client.v1.customers.create({"name": "Acme"}).name == "Acme"
    assert statuses(emulator) == [429, 200]


def test_lock_timeout_asks_for_a_retry(emulator: StripeEmulator) -> None:
    """A ``lock_timeout`` 429 carries ``Stripe-Should-Retry: true`` (https://docs.stripe.com/rate-limits#object-lock-timeouts)."""
    emulator.inject_fault("/v1/customers", status=429, error_code="lock_timeout")
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=1)
    assert client.v1.customers.list().data == []
    assert statuses(emulator) == [429, 200]


def test_a_429_is_not_saved_under_the_idempotency_key(emulator: StripeEmulator) -> None:
    """The rate limiter runs before the idempotency layer: a 429 is not replayed
    (https://docs.stripe.com/error-low-level#content-errors)."""
    emulator.inject_fault("/v1/customers", method="POST", status=429)
    client = make_client(EMULATOR_API_KEY, emulator.url)
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-429"})
    assert client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-429"}).name == "A"


def test_sdk_retries_a_5xx_on_a_get(emulator: StripeEmulator) -> None:
    """The SDK retries 5xx answers (https://docs.stripe.com/error-low-level#server-errors)."""
    emulator.inject_fault("/v1/customers", method="GET", status=503, count=2)
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=2)
    assert client.v1.customers.list().data == []
    assert statuses(emulator) == [503, 503, 200]


def test_hang_times_the_client_out_but_the_request_still_runs(emulator: StripeEmulator) -> None:
    """A client timeout says nothing about the outcome: the request may complete after the client gave up
    (https://docs.stripe.com/error-low-level#network-errors)."""
    emulator.inject_fault("/v1/customers", method="POST", status=200, hang_seconds=0.4)  # 200: answer normally
    client = make_client(EMULATOR_API_KEY, emulator.url, timeout=0.1)
    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create({"name": "Slow"}, {"idempotency_key": "k-slow"})
    assert time.monotonic() - started < 0.4
    deadline = time.monotonic() + 2
    while not emulator.requests_log() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert statuses(emulator) == [200]
    patient = make_client(EMULATOR_API_KEY, emulator.url)
    replay = patient.v1.customers.create({"name": "Slow"}, {"idempotency_key": "k-slow"})
    assert [customer.id for customer in patient.v1.customers.list().data] == [replay.id]


def test_faults_match_method_and_prefix_and_are_consumed(emulator: StripeEmulator) -> None:
    """A fault applies to its method and path prefix, ``count`` times."""
    emulator.inject_fault("/v1/prices", method="POST", status=500, count=1)
    client = make_client(EMULATOR_API_KEY, emulator.url)
    assert client.v1.customers.list().data == []  # another path
    assert client.v1.prices.list().data == []  # another method
    product = client.v1.products.create({"name": "p"})
    with pytest.raises(stripe.APIError):
        client.v1.prices.create({"currency": "usd", "unit_amount": 1, "product": product.id})
    assert client.v1.prices.create({"currency": "usd", "unit_amount": 1, "product": product.id}).unit_amount == 1
    assert emulator.faults() == []


def test_fault_controls_over_http(emulator: StripeEmulator) -> None:
    """``/_emulator/faults`` arms, lists and clears faults; a malformed fault is a 400."""
    armed = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"method": "GET", "path_prefix": "/v1/customers", "status": 429, "count": 3},
        timeout=5,
    )
    assert armed.status_code == 200
    assert armed.json()["count"] == 3
    assert len(requests.get(f"{emulator.url}/_emulator/faults", timeout=5).json()["data"]) == 1
    assert requests.delete(f"{emulator.url}/_emulator/faults", timeout=5).status_code == 200
    assert emulator.faults() == []
    bad = requests.post(f"{emulator.url}/_emulator/faults", json={"status": 418}, timeout=5)
    assert bad.status_code == 400
