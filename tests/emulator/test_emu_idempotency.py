"""Idempotent requests (https://docs.stripe.com/api/idempotent_requests,
https://docs.stripe.com/error-low-level#idempotency)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, error_of, unchecked


def test_same_key_same_params_replays_the_first_response(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """A retry with the same key and parameters returns the saved response, ``Idempotent-Replayed: true``,
    and performs nothing again (https://docs.stripe.com/api/idempotent_requests)."""
    params: Any = {"email": f"{uid}@example.com", "name": "Acme"}
    first = client.v1.customers.create(params, {"idempotency_key": f"{uid}-create"})
    again = client.v1.customers.create(params, {"idempotency_key": f"{uid}-create"})
    assert again.id == first.id
    assert first.last_response is not None
    assert again.last_response is not None
    assert again.last_response.body == first.last_response.body
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") in (None, "false")
    assert len(client.v1.customers.list({"email": f"{uid}@example.com"}).data) == 1
    client.v1.customers.delete(first.id)


def test_same_key_other_params_is_an_idempotency_error(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Reusing a key with other parameters is a 400 ``idempotency_error``
    (https://docs.stripe.com/api/idempotent_requests)."""
    first = client.v1.customers.create({"name": "Acme"}, {"idempotency_key": f"{uid}-key"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create({"name": "Other"}, {"idempotency_key": f"{uid}-key"})
    assert caught.value.http_status == 400
    assert error_of(caught.value)["type"] == "idempotency_error"
    client.v1.customers.delete(first.id)


def test_a_request_failing_validation_is_not_saved(client: stripe.StripeClient, uid: str) -> None:
    """Results are saved only once an endpoint begins executing: a request rejected for its parameters
    can be corrected and sent again with the same key (https://docs.stripe.com/api/idempotent_requests)."""
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.create(unchecked({"nmae": "typo"}), {"idempotency_key": f"{uid}-p"})
    product = client.v1.products.create({"name": "fixed"}, {"idempotency_key": f"{uid}-p"})
    assert product.name == "fixed"
    client.v1.products.update(product.id, {"active": False})


def test_an_endpoint_error_is_saved_and_replayed(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """An error raised by the endpoint itself is saved like a success: a 400 "sends back the same 400"
    (https://docs.stripe.com/error-low-level#content-errors)."""
    holder = make.price(lookup_key=f"{uid}_k")
    params: Any = {"currency": "usd", "unit_amount": 1, "product": str(holder.product), "lookup_key": f"{uid}_k"}
    with pytest.raises(stripe.InvalidRequestError) as first:
        client.v1.prices.create(params, {"idempotency_key": f"{uid}-price"})
    client.v1.prices.update(holder.id, {"lookup_key": f"{uid}_moved"})  # the key is free now...
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.prices.create(params, {"idempotency_key": f"{uid}-price"})
    assert again.value.http_body == first.value.http_body  # ...but the saved 400 is replayed
    assert again.value.headers is not None
    assert again.value.headers.get("Idempotent-Replayed") == "true"


def test_a_saved_500_is_replayed(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Stripe saves the first response "including 500 errors" (https://docs.stripe.com/api/idempotent_requests).

    Design choice: an injected 5xx stands for an endpoint that began and failed, so it is saved under the
    request's key like a real 500 (and answered with ``Stripe-Should-Retry: false``, as Stripe tells clients
    not to retry what would only be replayed); only a new key runs the request again.
    """
    emulator.inject_fault("/v1/customers", method="POST", status=500)
    with pytest.raises(stripe.APIError) as first:
        emulator_client.v1.customers.create({"name": "Acme"}, {"idempotency_key": "k-500"})
    assert first.value.http_status == 500
    assert first.value.headers is not None
    assert first.value.headers.get("Stripe-Should-Retry") == "false"

    with pytest.raises(stripe.APIError) as replayed:
        emulator_client.v1.customers.create({"name": "Acme"}, {"idempotency_key": "k-500"})
    assert replayed.value.http_body == first.value.http_body
    assert replayed.value.headers is not None
    assert replayed.value.headers.get("Idempotent-Replayed") == "true"

    assert emulator_client.v1.customers.list().data == []
    created = emulator_client.v1.customers.create({"name": "Acme"}, {"idempotency_key": "k-new"})
    assert created.name == "Acme"
    log = emulator.requests_log()
    assert [(entry["status"], entry["idempotent_replayed"]) for entry in log if entry["method"] == "POST"] == [
        (500, False),
        (500, True),
        (200, False),
    ]


def test_sdk_retries_stop_at_a_saved_500(emulator: StripeEmulator) -> None:
    """With retries on, the SDK obeys ``Stripe-Should-Retry: false`` on a saved 500 and sends it once
    (https://docs.stripe.com/error-low-level#server-errors)."""
    emulator.inject_fault("/v1/customers", method="POST", status=500)
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator.url}, max_network_retries=2)
    with pytest.raises(stripe.APIError):
        client.v1.customers.create({"name": "Acme"})
    assert len(emulator.requests_log()) == 1


def test_an_unsaved_5xx_can_be_retried_with_the_same_key(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """A 5xx from in front of the API (``idempotent_replay=False``) is not saved: the same key then runs
    the request (https://docs.stripe.com/error-low-level#server-errors)."""
    emulator.inject_fault("/v1/customers", method="POST", status=503, idempotent_replay=False)
    with pytest.raises(stripe.APIError):
        emulator_client.v1.customers.create({"name": "Acme"}, {"idempotency_key": "k-503"})
    assert emulator_client.v1.customers.create({"name": "Acme"}, {"idempotency_key": "k-503"}).name == "Acme"


def test_keys_expire_after_24_hours(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Keys can be pruned once at least 24 hours old; a pruned key runs a new request
    (https://docs.stripe.com/api/idempotent_requests)."""
    first = emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-day"})
    emulator.advance_clock(23 * 3600)
    assert emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-day"}).id == first.id
    emulator.advance_clock(3600)
    second = emulator_client.v1.customers.create({"name": "B"}, {"idempotency_key": "k-day"})
    assert (second.id != first.id, second.name) == (True, "B")


def test_a_key_in_flight_is_409(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """A second request with a key still being processed answers 409 ``idempotency_key_in_use``
    (https://docs.stripe.com/error-codes#idempotency-key-in-use); the SDK retries 409s."""
    emulator.inject_fault("/v1/customers", method="POST", hang_seconds=0.6)
    results: list[str] = []
    slow = threading.Thread(
        target=lambda: results.append(
            emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-busy"}).id
        )
    )
    slow.start()
    deadline = time.monotonic() + 2
    while emulator.faults() and time.monotonic() < deadline:  # the slow request took the fault...
        time.sleep(0.01)
    time.sleep(0.1)  # ...and now holds the key while it hangs
    with pytest.raises(stripe.APIError) as caught:
        emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-busy"})
    slow.join()
    assert caught.value.http_status == 409
    assert error_of(caught.value)["code"] == "idempotency_key_in_use"
    assert len(results) == 1
