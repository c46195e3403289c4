"""Webhook endpoints (https://docs.stripe.com/api/webhook_endpoints) and the delivery of events to them
(https://docs.stripe.com/webhooks).

Endpoint CRUD runs against the emulator and Stripe. Delivery is emulator-only: Stripe cannot reach a
receiver on this machine. Delivery tests use an emulator of their own whose retries come after 50 ms
instead of minutes, and a receiver (:class:`Receiver`) that records what it is sent.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from stripe_emulator import DEFAULT_API_VERSION, EmulatorControl, EmulatorControlError, StripeEmulator
from tests.emulator.receiver import Receiver, closed_port_url
from tests.emulator.support import Target, error_of, make_client, metadata_of, unchecked
from tests.support import EMULATOR_API_KEY

FAST_RETRIES = (0.05, 0.05, 0.05)  # 4 attempts in all
LOCAL_SECRET = "whsec_local"


@pytest.fixture(scope="module")
def fast_retrying_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator(webhook_retry_delays=FAST_RETRIES, webhook_timeout=2.0) as emulator:
        yield emulator


@pytest.fixture
def hooks(fast_retrying_emulator: StripeEmulator) -> Iterator[StripeEmulator]:
    """An emulator retrying failed deliveries after 50 ms (3 retries), reset for this test."""
    fast_retrying_emulator.reset()
    yield fast_retrying_emulator
    fast_retrying_emulator.reset()


@pytest.fixture
def hooks_client(hooks: StripeEmulator) -> stripe.StripeClient:
    return make_client(EMULATOR_API_KEY, hooks.url)


def wait_idle(emulator: StripeEmulator) -> None:
    assert emulator.wait_for_deliveries(timeout=10), emulator.webhook_deliveries()


# --- endpoints (emulator and Stripe) ---------------------------------------------------------------


def test_webhook_endpoint_crud(client: stripe.StripeClient, target: Target, uid: str) -> None:
    """Create answers the endpoint with its signing ``secret`` (``whsec_...``) — the only time it is shown;
    retrieve, list and update leave it out; ``disabled`` toggles ``status``; delete answers ``deleted: true``
    and the endpoint is then unknown (https://docs.stripe.com/api/webhook_endpoints)."""
    url = f"https://example.com/incytes/{uid}"
    created = client.v1.webhook_endpoints.create(
        {
            "url": url,
            "enabled_events": ["invoice.created", "invoice.finalized"],
            "api_version": DEFAULT_API_VERSION,  # type: ignore[typeddict-item]  # the SDK lists every version by name
            "description": "incytes billing",
            "metadata": {"test": uid},
        }
    )
    try:
        assert created.id.startswith("we_")
        assert created.object == "webhook_endpoint"
        assert str(created.secret).startswith("whsec_")
        assert (created.url, created.status, created.livemode) == (url, "enabled", False)
        assert list(created.enabled_events) == ["invoice.created", "invoice.finalized"]
        assert created.api_version == DEFAULT_API_VERSION
        assert created.description == "incytes billing"
        assert metadata_of(created) == {"test": uid}

        retrieved = client.v1.webhook_endpoints.retrieve(created.id)
        assert "secret" not in retrieved.to_dict()
        assert (retrieved.url, retrieved.status, retrieved.api_version) == (url, "enabled", DEFAULT_API_VERSION)

        listed = client.v1.webhook_endpoints.list({"limit": 100}).data
        mine = [endpoint for endpoint in listed if endpoint.id == created.id]
        assert len(mine) == 1
        assert "secret" not in mine[0].to_dict()

        updated = client.v1.webhook_endpoints.update(
            created.id,
            {"disabled": True, "enabled_events": ["*"], "url": url + "/v2", "description": "", "metadata": {"n": "1"}},
        )
        assert "secret" not in updated.to_dict()
        assert (updated.status, list(updated.enabled_events), updated.url) == ("disabled", ["*"], url + "/v2")
        assert updated.description is None
        assert metadata_of(updated) == {"test": uid, "n": "1"}
        assert client.v1.webhook_endpoints.update(created.id, {"disabled": False}).status == "enabled"

        deleted = client.v1.webhook_endpoints.delete(created.id)
        assert (deleted.id, deleted.deleted) == (created.id, True)
        with pytest.raises(stripe.InvalidRequestError) as missing:
            client.v1.webhook_endpoints.retrieve(created.id)
        assert missing.value.http_status == 404
        assert error_of(missing.value)["code"] == "resource_missing"
    finally:
        if target.name == "stripe":
            with contextlib.suppress(stripe.InvalidRequestError):  # deleted by the test
                client.v1.webhook_endpoints.delete(created.id)


def test_webhook_endpoint_parameters(client: stripe.StripeClient) -> None:
    """``url`` and ``enabled_events`` are required; ``api_version`` is set at creation only: update does
    not take it (https://docs.stripe.com/api/webhook_endpoints/create,
    https://docs.stripe.com/api/webhook_endpoints/update)."""
    with pytest.raises(stripe.InvalidRequestError) as no_events:
        client.v1.webhook_endpoints.create({"url": "https://example.com/hook"})  # type: ignore[typeddict-item]
    assert (error_of(no_events.value)["code"], error_of(no_events.value)["param"]) == (
        "parameter_missing",
        "enabled_events",
    )
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.webhook_endpoints.update("we_doesnotmatter", unchecked({"api_version": DEFAULT_API_VERSION}))
    assert error_of(unknown.value)["code"] == "parameter_unknown"


def test_endpoint_validation_in_the_emulator(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator: malformed URLs, event types and API versions are refused; ``connect=true`` (connected
    accounts' events) is not modeled; local URLs are accepted, since the emulator delivers locally."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": "example.com/hook", "enabled_events": ["*"]}, "url"),
        ({"url": "ftp://example.com/hook", "enabled_events": ["*"]}, "url"),
        ({"url": "https://example.com/hook", "enabled_events": ["invoice"]}, "enabled_events[0]"),
        ({"url": "https://example.com/hook", "enabled_events": ["*"], "api_version": "latest"}, "api_version"),
    ]
    for params, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            emulator_client.v1.webhook_endpoints.create(params)  # type: ignore[arg-type]
        assert error_of(refused.value)["param"] == param, params
    with pytest.raises(stripe.InvalidRequestError) as connect:
        emulator_client.v1.webhook_endpoints.create(
            {"url": "https://example.com/hook", "enabled_events": ["*"], "connect": True}
        )
    assert error_of(connect.value)["code"] == "emulator_unsupported_parameter"
    local = emulator_client.v1.webhook_endpoints.create({"url": "http://localhost:3000/hook", "enabled_events": ["*"]})
    assert local.api_version is None  # the account's default version
    with pytest.raises(ValueError, match="secret"):
        emulator.add_webhook_endpoint("http://localhost:3000/hook", "")
    with pytest.raises(ValueError, match="Invalid URL"):
        emulator.add_webhook_endpoint("localhost:3000/hook", LOCAL_SECRET)


# --- delivery (emulator only) ----------------------------------------------------------------------


def test_events_are_delivered_signed(
    hooks: StripeEmulator, hooks_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """Emulator: each event is POSTed as JSON to the endpoint, signed with its secret in ``Stripe-Signature``
    (the SDK's ``construct_event`` verifies it), in the endpoint's pinned ``api_version``; a 2xx answer
    counts it delivered: ``pending_webhooks`` drops to 0 and ``delivery_success=true`` lists it
    (https://docs.stripe.com/webhooks, https://docs.stripe.com/webhooks/versioning)."""
    endpoint = hooks_client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    customer = hooks_client.v1.customers.create({"name": "Zoë Café"})
    wait_idle(hooks)

    [request] = receiver.wait_for(1)
    assert (request.method, request.path) == ("POST", "/stripe/webhook")
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["user-agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    event = request.event(str(endpoint.secret))
    recorded = hooks.events("customer.created")[0]
    assert (event.id, event.type, event.data.object["id"]) == (recorded["id"], "customer.created", customer.id)
    assert event.data.object["name"] == "Zoë Café"
    assert event.api_version == DEFAULT_API_VERSION
    assert json.loads(request.body)["pending_webhooks"] == 1  # this delivery had not succeeded yet
    with pytest.raises(stripe.SignatureVerificationError):
        request.event("whsec_someone_else")

    assert hooks_client.v1.events.retrieve(event.id).pending_webhooks == 0
    assert [e.id for e in hooks_client.v1.events.list({"delivery_success": True}).data] == [event.id]
    assert hooks_client.v1.events.list({"delivery_success": False}).data == []
    [attempt] = hooks.webhook_deliveries()
    assert attempt["event_id"] == event.id
    assert attempt["type"] == "customer.created"
    assert (attempt["endpoint"], attempt["url"]) == (endpoint.id, receiver.url)
    assert (attempt["attempt"], attempt["status"], attempt["error"], attempt["delivered"]) == (1, 200, None, True)
    assert attempt["next_retry_in"] is None
    assert abs(attempt["time"] - hooks.now()) < 5


def test_pinned_api_version_and_chosen_secret(
    hooks: StripeEmulator, hooks_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """Emulator: ``add_webhook_endpoint`` registers an endpoint with a chosen secret (the local stack's
    configured one); events carry each endpoint's pinned ``api_version``, or the account default."""
    pinned = hooks.add_webhook_endpoint(receiver.url + "?pinned", LOCAL_SECRET, api_version="2025-03-31.basil")
    assert pinned["secret"] == LOCAL_SECRET
    assert pinned["id"].startswith("we_")
    assert pinned["status"] == "enabled"
    assert "secret" not in hooks_client.v1.webhook_endpoints.retrieve(pinned["id"]).to_dict()
    hooks.add_webhook_endpoint(receiver.url + "?default", LOCAL_SECRET)
    hooks_client.v1.customers.create({"name": "A"})
    wait_idle(hooks)

    versions = {request.path: request.event(LOCAL_SECRET).api_version for request in receiver.wait_for(2)}
    assert versions == {"/stripe/webhook?pinned": "2025-03-31.basil", "/stripe/webhook?default": DEFAULT_API_VERSION}
    assert hooks.events()[0]["api_version"] == DEFAULT_API_VERSION  # the stored event is unchanged


def test_the_request_does_not_wait_for_delivery(
    hooks: StripeEmulator, hooks_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """Emulator: delivery is asynchronous: the API request that records an event answers while the
    receiver is still busy with it."""
    hooks.add_webhook_endpoint(receiver.url, LOCAL_SECRET)
    receiver.hold()
    customer = hooks_client.v1.customers.create({"name": "A"})
    receiver.wait_for(1)
    assert hooks.webhook_deliveries() == []  # the attempt has not finished
    assert not hooks.wait_for_deliveries(timeout=0.05)
    assert hooks_client.v1.events.list({"delivery_success": False}).data[0].data.object["id"] == customer.id
    receiver.release()
    wait_idle(hooks)
    assert [attempt["delivered"] for attempt in hooks.webhook_deliveries()] == [True]


def test_enabled_events_choose_what_each_endpoint_gets(
    hooks: StripeEmulator, hooks_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """Emulator: an endpoint gets the event types in its ``enabled_events`` (``*``: all); a disabled endpoint
    gets nothing, and an endpoint gets no event recorded before it existed or while it was disabled
    (https://docs.stripe.com/api/webhook_endpoints/create#create_webhook_endpoint-enabled_events,
    https://docs.stripe.com/workbench/webhooks)."""
    hooks_client.v1.customers.create({"name": "before any endpoint"})
    created_only = hooks.add_webhook_endpoint(receiver.url + "?created", "whsec_a", ["customer.created"])
    hooks.add_webhook_endpoint(receiver.url + "?all", "whsec_b")
    off = hooks.add_webhook_endpoint(receiver.url + "?off", "whsec_c")
    hooks_client.v1.webhook_endpoints.update(off["id"], {"disabled": True})

    receiver.hold()  # nothing is delivered yet: pending_webhooks counts the endpoints each event goes to
    customer = hooks_client.v1.customers.create({"name": "A"})
    hooks_client.v1.customers.update(customer.id, {"name": "B"})
    created_event = hooks.events("customer.created")[-1]
    assert created_event["pending_webhooks"] == 2
    assert hooks.events("customer.updated")[-1]["pending_webhooks"] == 1
    receiver.release()
    wait_idle(hooks)

    got = sorted((request.path, json.loads(request.body)["type"]) for request in receiver.received)
    assert got == [
        ("/stripe/webhook?all", "customer.created"),
        ("/stripe/webhook?all", "customer.updated"),
        ("/stripe/webhook?created", "customer.created"),
    ]
    assert {attempt["endpoint"] for attempt in hooks.webhook_deliveries()} >= {created_only["id"]}
    assert hooks_client.v1.events.retrieve(created_event["id"]).pending_webhooks == 0


def test_failed_deliveries_are_retried_until_a_2xx(
    hooks: StripeEmulator, hooks_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """Emulator: a non-2xx answer fails the attempt; it is retried with backoff until one succeeds
    (https://docs.stripe.com/webhooks#automatic-retries). Meanwhile ``delivery_success=false`` lists the
    event (https://docs.stripe.com/api/events/list#list_events-delivery_success)."""
    hooks.add_webhook_endpoint(receiver.url, LOCAL_SECRET)
    receiver.respond_with(500, 500)
    hooks_client.v1.customers.create({"name": "A"})
    wait_idle(hooks)

    attempts = hooks.webhook_deliveries()
    assert [(a["attempt"], a["status"], a["delivered"]) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert [a["error"] for a in attempts] == ["HTTP 500", "HTTP 500", None]
    assert [a["next_retry_in"] for a in attempts] == [0.05, 0.05, None]
    delivered = receiver.events(LOCAL_SECRET)
    assert len({event.id for event in delivered}) == 1  # the same event, signed afresh each time
    assert hooks_client.v1.events.list({"delivery_success": False}).data == []
    assert hooks_client.v1.events.retrieve(delivered[0].id).pending_webhooks == 0


def test_a_delivery_is_given_up_after_the_last_retry(hooks: StripeEmulator, hooks_client: stripe.StripeClient) -> None:
    """Emulator: a receiver that is down fails every attempt; after the last retry of the schedule the
    delivery is given up, and the event stays undelivered: ``pending_webhooks`` 1, listed by
    ``delivery_success=false`` for replay (https://docs.stripe.com/webhooks/process-undelivered-events)."""
    url = closed_port_url()
    endpoint = hooks.add_webhook_endpoint(url, LOCAL_SECRET)
    customer = hooks_client.v1.customers.create({"name": "A"})
    wait_idle(hooks)

    attempts = hooks.webhook_deliveries()
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert all(a["status"] is None and not a["delivered"] for a in attempts)
    assert all(a["error"].startswith("connection failed") for a in attempts)
    assert (attempts[-1]["next_retry_in"], attempts[-1]["endpoint"], attempts[-1]["url"]) == (None, endpoint["id"], url)
    undelivered = hooks_client.v1.events.list({"delivery_success": False}).data
    assert [(e.type, e.data.object["id"], e.pending_webhooks) for e in undelivered] == [
        ("customer.created", customer.id, 1)
    ]
    assert hooks_client.v1.events.list({"delivery_success": True}).data == []


def test_timeouts_and_redirects_fail() -> None:
    """Emulator: no answer within the timeout fails the attempt, and so does a redirect, which is not
    followed (https://docs.stripe.com/webhooks#automatic-retries)."""
    slow, moved = Receiver(), Receiver()
    try:
        with StripeEmulator(webhook_retry_delays=(), webhook_timeout=0.1) as emulator:
            slow.hold()
            moved.respond_with(302)
            emulator.add_webhook_endpoint(slow.url, LOCAL_SECRET)
            emulator.add_webhook_endpoint(moved.url, LOCAL_SECRET)
            make_client(EMULATOR_API_KEY, emulator.url).v1.customers.create({"name": "A"})
            assert emulator.wait_for_deliveries(timeout=5)
            outcomes = [(a["status"], a["error"], a["delivered"]) for a in emulator.webhook_deliveries()]
    finally:
        slow.close()
        moved.close()
    assert outcomes == [(None, "timed out after 0.1 s", False), (302, "HTTP 302", False)]
    assert len(moved.received) == 1  # never sent on to /elsewhere


def test_disabling_or_deleting_an_endpoint_stops_its_retries(receiver: Receiver) -> None:
    """Emulator: a retry that comes due while its endpoint is disabled or deleted is not made, and the
    delivery ends; an endpoint disabled and enabled again before the retry still gets it
    (https://docs.stripe.com/webhooks#automatic-retries)."""
    with StripeEmulator(webhook_retry_delays=(0.2, 0.2)) as emulator:
        client = make_client(EMULATOR_API_KEY, emulator.url)
        receiver.respond_with(*[500] * 9)
        disabled = emulator.add_webhook_endpoint(receiver.url + "?disabled", LOCAL_SECRET)
        deleted = emulator.add_webhook_endpoint(receiver.url + "?deleted", LOCAL_SECRET)
        flapping = emulator.add_webhook_endpoint(receiver.url + "?flapping", LOCAL_SECRET)
        client.v1.customers.create({"name": "A"})
        receiver.wait_for(3)
        client.v1.webhook_endpoints.update(disabled["id"], {"disabled": True})
        client.v1.webhook_endpoints.delete(deleted["id"])
        client.v1.webhook_endpoints.update(flapping["id"], {"disabled": True})
        client.v1.webhook_endpoints.update(flapping["id"], {"disabled": False})
        assert emulator.wait_for_deliveries(timeout=5)
        by_endpoint: dict[str, list[tuple[int, int | None, str | None]]] = {}
        for attempt in emulator.webhook_deliveries():
            by_endpoint.setdefault(attempt["endpoint"], []).append(
                (attempt["attempt"], attempt["status"], attempt["error"])
            )
    assert by_endpoint[disabled["id"]] == [
        (1, 500, "HTTP 500"),
        (2, None, "not attempted: the webhook endpoint is disabled"),
    ]
    assert by_endpoint[deleted["id"]] == [
        (1, 500, "HTTP 500"),
        (2, None, "not attempted: the webhook endpoint is deleted"),
    ]
    assert [status for _, status, _ in by_endpoint[flapping["id"]]] == [500, 500, 500]


def test_reset_forgets_endpoints_queue_and_log(receiver: Receiver) -> None:
    """Emulator: reset deletes the webhook endpoints, drops queued retries and clears the delivery log;
    ``stop()`` ends the delivery worker."""
    emulator = StripeEmulator(webhook_retry_delays=(60,))
    emulator.start()
    try:
        client = make_client(EMULATOR_API_KEY, emulator.url)
        receiver.respond_with(500)
        emulator.add_webhook_endpoint(receiver.url, LOCAL_SECRET)
        client.v1.customers.create({"name": "A"})
        receiver.wait_for(1)
        assert not emulator.wait_for_deliveries(timeout=0.1)  # the retry is a minute away
        assert len(emulator.webhook_deliveries()) == 1

        emulator.reset()
        assert emulator.wait_for_deliveries(timeout=0)
        assert emulator.webhook_deliveries() == []
        assert client.v1.webhook_endpoints.list().data == []
        client.v1.customers.create({"name": "B"})
        assert emulator.wait_for_deliveries(timeout=0)  # nothing to deliver: the endpoint is gone
        assert len(receiver.received) == 1
    finally:
        emulator.stop()
    assert not emulator.app.webhooks.running


def test_webhook_controls_over_http(
    hooks: StripeEmulator, hooks_client: stripe.StripeClient, receiver: Receiver
) -> None:
    """Emulator: ``POST /_emulator/webhook_endpoints``, ``GET /_emulator/webhook_deliveries`` and ``POST
    /_emulator/webhook_deliveries/wait``, as ``EmulatorControl`` drives them for the local stack."""
    control = EmulatorControl(hooks.url)
    endpoint = control.add_webhook_endpoint(receiver.url, LOCAL_SECRET, ["customer.created"])
    assert (endpoint["secret"], endpoint["enabled_events"], endpoint["api_version"]) == (
        LOCAL_SECRET,
        ["customer.created"],
        None,
    )
    hooks_client.v1.customers.create({"name": "A"})
    assert control.wait_for_deliveries(timeout=5)
    assert receiver.events(LOCAL_SECRET)[0].type == "customer.created"
    assert control.webhook_deliveries() == hooks.webhook_deliveries()
    assert [a["delivered"] for a in control.webhook_deliveries()] == [True]

    with pytest.raises(EmulatorControlError, match="400"):
        control.add_webhook_endpoint("not a url", LOCAL_SECRET)
    bad = requests.post(f"{hooks.url}/_emulator/webhook_endpoints", json={"url": receiver.url}, timeout=5)
    assert bad.status_code == 400
    assert (
        requests.post(f"{hooks.url}/_emulator/webhook_deliveries/wait", json={"timeout": -1}, timeout=5).status_code
        == 400
    )
    requests.post(f"{hooks.url}/_emulator/reset", timeout=5).raise_for_status()
    assert control.webhook_deliveries() == []
    started = time.monotonic()
    assert control.wait_for_deliveries(timeout=5)
    assert time.monotonic() - started < 1
