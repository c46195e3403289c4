"""FundersFunction invoked with the events/ files `sam local invoke` would pass, against moto and the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import stripe

from tests.support import Invoke, load_event

FUNCTION = "FundersFunction"
DEMO_CUSTOMER = "cus_LocalDemoAcme"


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def put_event(body: Any, funder_id: str = "f1", *, raw: str | None = None) -> dict[str, Any]:
    event = load_event("funders/put_funder.json")
    event["path"] = f"/funders/{funder_id}"
    event["pathParameters"] = {"funder_id": funder_id}
    event["body"] = raw if raw is not None else json.dumps(body)
    return event


def assert_error(response: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    assert response["statusCode"] == status, response["body"]
    error = body_of(response)["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def test_put_then_get_with_sample_events(invoke: Invoke) -> None:
    created = invoke(FUNCTION, load_event("funders/put_funder.json"))
    assert created["statusCode"] == 200, created["body"]
    funder = body_of(created)
    assert funder == {
        "funder_id": "f1",
        "name": "Acme Health",
        "stripe_customer_id": None,
        "stripe_customer_deleted": False,
        "currency": "usd",
        "seats": 3,
        "subscription": None,
        "created_at": funder["created_at"],
        "updated_at": funder["updated_at"],
    }
    fetched = invoke(FUNCTION, load_event("funders/get_funder.json"))
    assert fetched["statusCode"] == 200
    assert body_of(fetched) == funder
    assert fetched["multiValueHeaders"]["Content-Type"] == ["application/json"]


def test_base64_body_as_sam_generate_event_sends_it(invoke: Invoke) -> None:
    event = load_event("funders/put_funder_base64.json")
    assert event["isBase64Encoded"] is True
    response = invoke(FUNCTION, event)
    assert response["statusCode"] == 200, response["body"]
    assert body_of(response)["seats"] == 5


def test_links_existing_stripe_customer(invoke: Invoke, demo_customer: str) -> None:
    response = invoke(FUNCTION, load_event("funders/put_funder_linked.json"))
    assert response["statusCode"] == 200, response["body"]
    assert body_of(response)["stripe_customer_id"] == DEMO_CUSTOMER


def test_invalid_body_lists_every_problem(invoke: Invoke) -> None:
    error = assert_error(invoke(FUNCTION, load_event("funders/put_funder_invalid.json")), 422, "validation_error")
    fields = {detail["field"] for detail in error["details"]}
    assert {"name", "seats", "colour"} <= fields


def test_unknown_funder(invoke: Invoke) -> None:
    error = assert_error(invoke(FUNCTION, load_event("funders/get_funder_unknown.json")), 404, "funder_not_found")
    assert "f-unknown" in error["message"]


def test_unknown_stripe_customer(invoke: Invoke) -> None:
    response = invoke(FUNCTION, put_event({"name": "Acme", "stripe_customer_id": "cus_DoesNotExist"}))
    assert "cus_DoesNotExist" in assert_error(response, 422, "stripe_customer_not_found")["message"]
    assert invoke(FUNCTION, load_event("funders/get_funder.json"))["statusCode"] == 404  # nothing stored


def test_deleted_stripe_customer(invoke: Invoke, stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"name": "Gone Clinic"})
    stripe_client.v1.customers.delete(customer.id)
    response = invoke(FUNCTION, put_event({"name": "Acme", "stripe_customer_id": customer.id}))
    assert "deleted" in assert_error(response, 422, "stripe_customer_not_found")["message"]


def test_customer_already_billing_in_another_currency(invoke: Invoke, stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"name": "Euro Clinic"})
    stripe_client.v1.invoice_items.create({"customer": customer.id, "amount": 100, "currency": "eur"})
    mismatch = invoke(FUNCTION, put_event({"name": "Acme", "stripe_customer_id": customer.id, "currency": "usd"}))
    assert "EUR" in assert_error(mismatch, 422, "currency_mismatch")["message"]
    adopted = invoke(FUNCTION, put_event({"name": "Acme", "stripe_customer_id": customer.id}))
    assert body_of(adopted)["currency"] == "eur"


@pytest.mark.parametrize(
    ("fault", "retry_env"),
    [
        ({"status": 500, "count": 10}, {}),
        ({"status": 429, "count": 10}, {"STRIPE_RATE_LIMIT_ATTEMPTS": "2", "STRIPE_RATE_LIMIT_BACKOFF_SECONDS": "0"}),
        ({"status": 200, "count": 10, "hang_seconds": 3}, {"STRIPE_TIMEOUT_SECONDS": "0.5"}),
    ],
    ids=["stripe-500", "stripe-429", "stripe-timeout"],
)
def test_stripe_trouble_is_503_with_retry_after(
    invoke: Invoke,
    demo_customer: str,
    stripe_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    fault: dict[str, Any],
    retry_env: dict[str, str],
) -> None:
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    for name, value in retry_env.items():
        monkeypatch.setenv(name, value)
    stripe_emulator.inject_fault(path_prefix="/v1/customers", **fault)
    response = invoke(FUNCTION, load_event("funders/put_funder_linked.json"))
    assert_error(response, 503, "stripe_unavailable")
    assert int(response["multiValueHeaders"]["Retry-After"][0]) > 0


def test_sdk_retries_a_passing_stripe_failure(
    invoke: Invoke, demo_customer: str, stripe_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "2")
    stripe_emulator.inject_fault(path_prefix="/v1/customers", status=500, count=1)
    assert invoke(FUNCTION, load_event("funders/put_funder_linked.json"))["statusCode"] == 200


def test_changing_customer_of_subscribed_funder_is_locked(
    invoke: Invoke, demo_customer: str, stripe_client: stripe.StripeClient, funders_table: Any
) -> None:
    assert invoke(FUNCTION, load_event("funders/put_funder_linked.json"))["statusCode"] == 200
    funders_table.update_item(
        Key={"funder_id": "f1"},
        UpdateExpression="SET subscription = :s",
        ExpressionAttributeValues={":s": {"subscription_id": "sub_123", "status": "active"}},
    )
    other = stripe_client.v1.customers.create({"name": "Other"})
    locked = invoke(FUNCTION, put_event({"name": "Acme", "stripe_customer_id": other.id}))
    assert "sub_123" in assert_error(locked, 409, "funder_locked")["message"]
    assert assert_error(invoke(FUNCTION, put_event({"name": "Acme", "currency": "eur"})), 409, "funder_locked")
    # Seats change through PATCH /funders/{id}/subscription, so that Stripe bills what the funder shows.
    assert (
        "PATCH"
        in assert_error(
            invoke(FUNCTION, put_event({"name": "Acme", "seats": 12})), 409, "seats_change_requires_subscription_route"
        )["message"]
    )
    renamed = invoke(FUNCTION, put_event({"name": "Acme Health"}))
    assert body_of(renamed)["name"] == "Acme Health"
    subscription = body_of(renamed)["subscription"]
    assert (subscription["subscription_id"], subscription["status"]) == ("sub_123", "active")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("{not json", "body"),
        ("", "body"),
        ("[]", "body"),
        ('{"name": "   "}', "name"),
        ('{"name": 5}', "name"),
        ('{"name": "A", "seats": 0}', "seats"),
        ('{"name": "A", "seats": 1.5}', "seats"),
        ('{"name": "A", "seats": true}', "seats"),
        ('{"name": "A", "currency": "gbp"}', "currency"),
        ('{"name": "A", "stripe_customer_id": "acct_123"}', "stripe_customer_id"),
        ('{"name": "A", "stripe_customer_id": 42}', "stripe_customer_id"),
        ('{"name": "A", "unknown": 1}', "unknown"),
        ('{"name": "' + "x" * 201 + '"}', "name"),
    ],
)
def test_bad_bodies_are_422_never_5xx(invoke: Invoke, raw: str, field: str) -> None:
    error = assert_error(invoke(FUNCTION, put_event(None, raw=raw)), 422, "validation_error")
    assert any(field in (detail["field"] or detail["location"]) for detail in error["details"]), error


@pytest.mark.parametrize("funder_id", ["x" * 129, "bad id", "-starts-with-dash", "semi;colon"])
def test_bad_funder_ids_are_422(invoke: Invoke, funder_id: str) -> None:
    error = assert_error(invoke(FUNCTION, put_event({"name": "Acme"}, funder_id)), 422, "validation_error")
    assert error["details"][0]["location"] == "path"


def test_form_content_type_is_read_as_json(invoke: Invoke) -> None:
    """`curl -d` labels JSON as a form; the API reads every body as JSON."""
    event = put_event({"name": "Curl Clinic"})
    event["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
    event["multiValueHeaders"]["Content-Type"] = ["application/x-www-form-urlencoded"]
    response = invoke(FUNCTION, event)
    assert response["statusCode"] == 200, response["body"]


def test_base64_garbage_is_422(invoke: Invoke) -> None:
    event = put_event(None, raw=base64.b64encode(b"\xff\xfe not json").decode())
    event["isBase64Encoded"] = True
    assert invoke(FUNCTION, event)["statusCode"] == 422


def test_json_nested_too_deep_is_422_not_500(invoke: Invoke) -> None:
    """Issue 11 §1: a body nested 100,000 deep made json.loads raise RecursionError: 500 internal_error."""
    response = invoke(FUNCTION, put_event(None, raw='{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    assert response["statusCode"] == 422, response["body"]
    assert json.loads(response["body"])["error"]["code"] == "validation_error"


@pytest.mark.parametrize("funder_id", ["f1\n", "f1\r", "f\x001"])
def test_a_path_id_with_a_control_character_reaches_no_funder(invoke: Invoke, funder_id: str) -> None:
    """Issue 11 §1: `/funders/f1%0A` updated funder `f1` (the route pattern's `$` matches before a final newline)."""
    response = invoke(FUNCTION, put_event({"name": "Mallory"}, funder_id=funder_id))
    assert response["statusCode"] == 422, response["body"]
    assert json.loads(response["body"])["error"]["code"] == "validation_error"
    assert invoke(FUNCTION, load_event("funders/get_funder.json"))["statusCode"] == 404  # f1 never written
