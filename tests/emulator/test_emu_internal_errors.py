"""No emulator crash is ever silent (issue 10 §4), and the crash that was: a deleted customer's draft.

An exception inside the emulator is a bug in it, not an answer Stripe gives: the request is answered 500
``api_error`` (``Stripe-Should-Retry: false``, which the SDK obeys, https://docs.stripe.com/error-low-level),
logged with ``internal_error: true`` and kept in ``internal_errors()`` until reset, where the suite's autouse
check (tests/conftest.py) finds it. Injected faults are not internal errors.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from stripe_emulator import EmulatorControl, StripeEmulator
from stripe_emulator.resources import customers
from tests.emulator.support import Factory, Target, make_client
from tests.support import EMULATOR_API_KEY


def _broken_deletion(_call: Any, _customer: Any) -> None:
    raise RuntimeError("boom")


def test_a_crash_is_answered_500_logged_and_kept_until_reset(
    emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that raises answers 500 ``api_error`` naming the exception, once (the SDK does not retry
    it), and shows in the request log and in ``internal_errors()`` (over HTTP too), with a short traceback."""
    monkeypatch.setattr(customers, "ON_DELETE", [*customers.ON_DELETE, _broken_deletion])
    client = make_client(EMULATOR_API_KEY, emulator.url, max_network_retries=2)
    customer = client.v1.customers.create({"name": "Acme"})
    with pytest.raises(stripe.APIError) as caught:
        client.v1.customers.delete(customer.id)
    assert caught.value.http_status == 500
    assert "RuntimeError: boom" in str(caught.value.user_message)
    logged = emulator.requests_log()[-1]
    assert (logged["method"], logged["status"], logged["internal_error"]) == ("DELETE", 500, True)
    assert logged["error"] == "RuntimeError: boom"
    assert logged["traceback"][-1].endswith("in _broken_deletion")
    assert len(emulator.requests_log()) == 2  # not retried: Stripe-Should-Retry: false
    (crash,) = emulator.internal_errors()
    assert (crash["source"], crash["path"], crash["request_id"]) == (
        "api",
        f"/v1/customers/{customer.id}",
        logged["request_id"],
    )
    assert EmulatorControl(emulator.url).internal_errors() == [crash]
    emulator.clear_requests_log()
    assert emulator.internal_errors() == [crash]  # kept until reset
    emulator.reset()
    assert emulator.internal_errors() == []


def test_injected_faults_are_not_internal_errors(emulator: StripeEmulator) -> None:
    emulator.inject_fault("/v1/customers", status=500)
    client = make_client(EMULATOR_API_KEY, emulator.url)
    with pytest.raises(stripe.APIError):
        client.v1.customers.list()
    assert [(entry["status"], entry["internal_error"]) for entry in emulator.requests_log()] == [(500, False)]
    assert emulator.internal_errors() == []


def test_a_crashing_control_is_an_internal_error(emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Controls too (the clock rules run in ``POST /_emulator/clock``): 500, kept in ``internal_errors()``."""

    def broken_advance(_seconds: float) -> int:
        raise KeyError("next_invoice_sequence")

    monkeypatch.setattr(emulator.app, "advance_clock", broken_advance)
    request = urllib.request.Request(
        emulator.url + "/_emulator/clock", data=json.dumps({"advance_seconds": 1}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 500
    (crash,) = emulator.internal_errors()
    assert (crash["source"], crash["method"], crash["error"]) == (
        "control",
        "POST",
        "KeyError: 'next_invoice_sequence'",
    )
    emulator.reset()


def _draft_of_a_deleted_customer(make: Factory, client: stripe.StripeClient) -> str:
    customer = make.customer(name="Leaving")
    schedule = make.schedule(customer.id, make.catalog())
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
    invoice = str(subscription.latest_invoice)
    client.v1.customers.delete(customer.id)
    return invoice


def test_a_deleted_customers_draft_cannot_be_finalized(
    client: stripe.StripeClient, make: Factory, target: Target
) -> None:
    """Deleting a customer "prevents any further operations to be performed"
    (https://docs.stripe.com/api/customers/delete): finalizing its draft is a 400 (the emulator's wording is
    unverified), not the emulator's old ``KeyError: 'next_invoice_sequence'`` answered 500."""
    invoice = _draft_of_a_deleted_customer(make, client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.finalize_invoice(invoice)
    assert caught.value.http_status == 400
    if target.is_emulator:
        assert "has been deleted" in str(caught.value.user_message)


def test_a_deleted_customers_draft_stops_advancing(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient
) -> None:
    """Its draft loses ``auto_advance`` (``invoice.updated``), so the clock does not try to finalize it later
    (what Stripe does with such drafts is not documented: unverified)."""
    make = Factory(emulator_client, "deleted")
    invoice = _draft_of_a_deleted_customer(make, emulator_client)
    emulator.advance_clock(2 * 3600)
    held = emulator_client.v1.invoices.retrieve(invoice)
    assert (held.status, held.auto_advance, held.automatically_finalizes_at) == ("draft", False, None)
    updated = [event for event in emulator.events("invoice.updated") if event["data"]["object"]["id"] == invoice]
    assert updated[-1]["data"]["previous_attributes"]["auto_advance"] is True
