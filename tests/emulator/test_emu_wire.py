"""Stripe's wire protocol: authentication, errors, headers, pagination, expansion.

Each test runs against the emulator and, with a test key in ``STRIPE_API_KEY``, against Stripe.
"""

from __future__ import annotations

import pytest
import requests
import stripe

from tests.emulator.support import Factory, Target, error_of, unchecked

pytestmark = pytest.mark.usefixtures("target")


def test_invalid_api_key_is_an_authentication_error(target: Target) -> None:
    """An unknown key answers 401 "Invalid API Key provided" (https://docs.stripe.com/api/authentication)."""
    # The emulator accepts any sk_test_/rk_test_ key; a live-mode key is refused by both targets.
    bad = target.client(api_key="sk_live_" + "0" * 24 + "abcd")
    with pytest.raises(stripe.AuthenticationError) as caught:
        bad.v1.customers.list()
    assert caught.value.http_status == 401
    assert caught.value.user_message is not None
    assert caught.value.user_message.startswith("Invalid API Key provided: sk_live_")
    assert caught.value.user_message.endswith("abcd")


def test_missing_api_key_is_401(target: Target) -> None:
    """A request without an API key answers 401 (https://docs.stripe.com/api/authentication)."""
    base = target.base_url or "https://api.stripe.com"
    response = requests.get(f"{base}/v1/customers", timeout=20)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")


def test_unknown_url_is_404(client: stripe.StripeClient) -> None:
    """An unknown method or path answers 404 "Unrecognized request URL" (https://docs.stripe.com/api/errors).

    Prices cannot be deleted: the SDK has no method for it, and Stripe has no route.
    """
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.raw_request("delete", "/v1/prices/price_unknown")
    assert caught.value.http_status == 404
    assert str(caught.value.user_message).startswith("Unrecognized request URL (DELETE: /v1/prices/price_unknown)")


def test_unknown_object_is_404_resource_missing(client: stripe.StripeClient) -> None:
    """An unknown id answers 404 ``resource_missing`` with ``param: id``
    (https://docs.stripe.com/error-codes#resource-missing)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_doesnotexist0")
    error = caught.value
    assert (error.http_status, error.code, error.param) == (404, "resource_missing", "id")
    assert error.user_message == "No such customer: 'cus_doesnotexist0'"
    assert error_of(error)["type"] == "invalid_request_error"
    assert error_of(error)["doc_url"] == "https://stripe.com/docs/error-codes/resource-missing"


def test_unknown_parameter_is_rejected(client: stripe.StripeClient) -> None:
    """An unknown parameter answers 400 ``parameter_unknown`` naming it
    (https://docs.stripe.com/error-codes#parameter-unknown)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create(unchecked({"nmae": "Acme"}))
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (400, "parameter_unknown", "nmae")
    assert caught.value.user_message == "Received unknown parameter: nmae"


def test_unknown_nested_parameter_is_named_in_brackets(client: stripe.StripeClient, make: Factory) -> None:
    """Nested unknown parameters are reported as ``recurring[...]``
    (https://docs.stripe.com/error-codes#parameter-unknown)."""
    product = make.product()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create(
            unchecked(
                {
                    "currency": "usd",
                    "unit_amount": 100,
                    "product": product.id,
                    "recurring": {"interval": "month", "intervals": 2},
                }
            )
        )
    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "recurring[intervals]")


def test_missing_parameter_is_rejected(client: stripe.StripeClient) -> None:
    """A missing required parameter answers 400 ``parameter_missing``
    (https://docs.stripe.com/error-codes#parameter-missing)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.products.create(unchecked({}))
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (400, "parameter_missing", "name")
    assert caught.value.user_message == "Missing required param: name."


def test_responses_carry_request_id_and_version(client: stripe.StripeClient, make: Factory) -> None:
    """Every response has a ``Request-Id`` and the ``Stripe-Version`` it was rendered in
    (https://docs.stripe.com/api/request_ids, https://docs.stripe.com/api/versioning)."""
    customer = make.customer(name="Acme")
    response = customer.last_response
    assert response is not None
    assert str(response.request_id).startswith("req_")
    assert response.headers["Stripe-Version"] == stripe.api_version
    assert response.idempotency_key  # the SDK sends one on every POST and Stripe echoes it


def test_list_pagination(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Lists are newest first, paged with ``limit``/``starting_after``/``ending_before`` and ``has_more``
    (https://docs.stripe.com/api/pagination)."""
    email = f"{uid}@example.com"
    created = [make.customer(email=email, name=f"c{index}").id for index in range(3)]
    newest_first = list(reversed(created))

    first = client.v1.customers.list({"email": email, "limit": 2})
    assert first.to_dict()["object"] == "list"
    assert first.url == "/v1/customers"
    assert [customer.id for customer in first.data] == newest_first[:2]
    assert first.has_more is True

    second = client.v1.customers.list({"email": email, "limit": 2, "starting_after": first.data[-1].id})
    assert [customer.id for customer in second.data] == newest_first[2:]
    assert second.has_more is False

    back = client.v1.customers.list({"email": email, "limit": 1, "ending_before": second.data[0].id})
    assert [customer.id for customer in back.data] == [newest_first[1]]
    assert back.has_more is True

    assert [customer.id for customer in first.auto_paging_iter()] == newest_first


def test_list_limit_is_1_to_100(client: stripe.StripeClient) -> None:
    """``limit`` ranges from 1 to 100 (https://docs.stripe.com/api/pagination)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.list({"limit": 101})
    assert caught.value.param == "limit"


def test_expand_replaces_ids_with_objects(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """``expand[]`` returns the object instead of its id, on lists through ``data.``
    (https://docs.stripe.com/expand)."""
    price = make.price(lookup_key=f"{uid}_expand")
    plain = client.v1.prices.retrieve(price.id)
    assert plain.product == price.product

    expanded = client.v1.prices.retrieve(price.id, {"expand": ["product"]})
    assert isinstance(expanded.product, stripe.Product)
    assert expanded.product.id == price.product

    listed = client.v1.prices.list({"lookup_keys": [f"{uid}_expand"], "expand": ["data.product"]})
    assert [item.to_dict()["product"]["id"] for item in listed.data] == [price.product]


def test_expand_of_an_unexpandable_field_is_rejected(client: stripe.StripeClient, make: Factory) -> None:
    """Only expandable fields can be expanded (https://docs.stripe.com/expand)."""
    price = make.price()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.retrieve(price.id, {"expand": ["currency"]})
