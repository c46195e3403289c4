"""Every object the emulator returns, checked against Stripe's published models (issue 10 §5).

stripe-python is generated from Stripe's OpenAPI description (https://github.com/stripe/openapi): its typed
classes for the pinned version (``stripe.Invoice``, ``stripe.SubscriptionSchedule``, ``stripe.events.*``...)
declare each object's fields, which are required, and the values of each enum, as the API reference pages
describe them (https://docs.stripe.com/api/invoices/object, https://docs.stripe.com/api/events/types,
https://docs.stripe.com/api/v2/core/events/object). These tests run the flows the product uses, record every
JSON body the API answers (nested objects too: invoice lines, subscription items, prices, an event's
``data.object``) and every webhook payload delivered, and check each with :mod:`tests.emulator.sdk_models`:
no field the SDK does not know, no required field missing, enum values within the SDK's literals, the right
``object`` values. The API flow also runs against Stripe's test mode (``STRIPE_API_KEY``), which checks the
checker. Deliberate differences are listed in :data:`ALLOWED`, each with its reason.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import stripe
from stripe.events._event_classes import _V2_EVENT_CLASS_LOOKUP
from stripe.params._webhook_endpoint_create_params import WebhookEndpointCreateParams

from stripe_emulator import StripeEmulator
from stripe_emulator.resources.event_types import SNAPSHOT_EVENT_TYPES, THIN_EVENT_TYPES
from tests import stripe_fixtures
from tests.emulator import sdk_models
from tests.emulator.receiver import Receiver
from tests.emulator.sdk_models import Difference
from tests.emulator.support import Catalog, Factory, Target, unchecked
from tests.stripe_sdk_types import field_hints
from tests.support import EMULATOR_API_KEY

# (kind, where, value) -> why the emulator differs from the SDK's model on purpose (value: repr of the
# offending value, "" for unknown and missing fields).
ALLOWED: dict[tuple[str, str, str], str] = {
    ("unknown_field", "invoice.lines.total_count", ""): (
        "Stripe's API reference shows total_count on embedded lists (invoice.lines, subscription.items); the "
        "SDK's ListObject does not declare it"
    ),
    ("unknown_field", "subscription.items.total_count", ""): "as invoice.lines.total_count",
    ("enum_value", "v2.core.event.data.reason.error_types[].code", "'meter_event_value_not_found'"): (
        "an open enum; Stripe's error report codes include meter_event_value_not_found (a sum/last meter's value "
        "key missing from the payload), https://docs.stripe.com/billing/subscriptions/usage-based/"
        "recording-usage-api#error-codes, which the SDK's literal omits"
    ),
}
THIN_SECRET = "whsec_thin_models"
SNAPSHOT_SECRET = "whsec_snapshot_models"


class RecordingHttpClient(stripe.RequestsClient):
    """The SDK's HTTP client, keeping every successful JSON answer."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.bodies: list[tuple[str, str, dict[str, Any]]] = []

    def request(  # type: ignore[override]  # the SDK's own clients answer bytes too (its annotation says str)
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        content, status, response_headers = super().request(method, url, headers, post_data)
        if 200 <= status < 300 and content.strip():
            body = json.loads(content)
            if body:  # the stream answers {}
                self.bodies.append((method.upper(), url, body))
        return content, status, response_headers


def recording_client(target: Target, recorder: RecordingHttpClient, api_key: str | None = None) -> stripe.StripeClient:
    base: Any = {"api": target.base_url, "meter_events": target.base_url} if target.base_url else None
    return stripe.StripeClient(api_key or target.api_key, base_addresses=base, http_client=recorder)


def differences(payloads: list[Mapping[str, Any]], *, thin_notifications: bool = False) -> list[str]:
    """What the SDK's models find, allow-listed differences left out, once each."""
    found: dict[Difference, None] = {}
    for payload in payloads:
        checked = sdk_models.check_thin_notification(payload) if thin_notifications else sdk_models.check(payload)
        found.update(dict.fromkeys(checked))
    return [str(d) for d in found if (d.kind, d.where, d.value) not in ALLOWED]


def assert_match_the_sdk(payloads: list[Mapping[str, Any]], *, thin_notifications: bool = False) -> None:
    found = differences(payloads, thin_notifications=thin_notifications)
    assert not found, "differences from stripe-python's models:\n" + "\n".join(found)


def _catalog_flow(client: stripe.StripeClient, make: Factory) -> Catalog:
    catalog = make.catalog()
    product = str(catalog.seat.product)
    client.v1.products.retrieve(product)
    client.v1.products.update(product, {"metadata": {"checked": "yes"}})
    client.v1.prices.list({"product": product})
    client.v1.prices.update(catalog.seat.id, {"metadata": {"checked": "yes"}})
    client.v1.billing.meters.list({"status": "active"})
    client.v1.billing.meters.retrieve(str(catalog.case["recurring"]["meter"]))
    return catalog


def _billing_flow(client: stripe.StripeClient, make: Factory, catalog: Catalog) -> None:
    customer = make.customer(name="Models Health", email="models@example.com")
    client.v1.customers.update(customer.id, {"metadata": {"incytes_funder_id": make.uid}})
    client.v1.customers.retrieve(customer.id)
    schedule = make.schedule(customer.id, catalog)
    client.v1.subscription_schedules.retrieve(schedule.id)
    client.v1.subscription_schedules.release(schedule.id)
    subscription = client.v1.subscriptions.retrieve(str(schedule.subscription), {"expand": ["latest_invoice"]})
    client.v1.subscriptions.list({"customer": customer.id})
    seat_item = next(item for item in subscription["items"].data if item.price.id == catalog.seat.id)
    client.v1.subscription_items.update(seat_item.id, {"quantity": 12, "proration_behavior": "create_prorations"})
    client.v1.invoice_items.list({"customer": customer.id, "pending": True})
    client.v1.subscriptions.update(subscription.id, {"metadata": {"checked": "yes"}})

    first = str(client.v1.subscriptions.retrieve(subscription.id).latest_invoice)
    client.v1.invoices.update(first, {"description": "Models", "metadata": {"checked": "yes"}})
    client.v1.invoices.finalize_invoice(first)
    client.v1.invoices.pay(first, {"paid_out_of_band": True})
    client.v1.invoices.list({"customer": customer.id})

    other = make.customer(name="Models Clinic", email="clinic@example.com")  # send_invoice emails it
    second = make.subscription(other.id, [{"price": catalog.seat.id, "quantity": 2}])
    invoice = str(second.latest_invoice)
    client.v1.invoices.send_invoice(invoice)
    client.v1.invoices.void_invoice(invoice)
    client.v1.subscriptions.cancel(second.id)
    client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})


def _usage_flow(client: stripe.StripeClient, make: Factory, target: Target, recorder: RecordingHttpClient) -> None:
    customer = make.customer(name="Models Usage")
    meter = make.meter()
    client.v1.billing.meter_events.create(
        {"event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "3"}}
    )
    session = client.v2.billing.meter_event_session.create()
    streamer = recording_client(target, recorder, api_key=session.authentication_token)
    streamer.v2.billing.meter_event_stream.create(
        unchecked(
            {
                "events": [
                    {"event_name": meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "2"}},
                    {"event_name": f"{make.uid}_no_meter", "payload": {"stripe_customer_id": customer.id}},
                    {"event_name": meter.event_name, "payload": {"stripe_customer_id": "cus_Unknown00001"}},
                ]
            }
        )
    )
    now = target.now()
    client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": now - now % 60 - 3600, "end_time": now - now % 60 + 60}
    )


def _webhook_endpoint_flow(client: stripe.StripeClient) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        {"url": "https://example.com/models", "enabled_events": ["invoice.finalized", "customer.subscription.updated"]}
    )
    client.v1.webhook_endpoints.retrieve(endpoint.id)
    client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    client.v1.webhook_endpoints.list()
    client.v1.webhook_endpoints.delete(endpoint.id)


@pytest.fixture
def recorder() -> RecordingHttpClient:
    return RecordingHttpClient()


@pytest.fixture
def recorded_make(target: Target, recorder: RecordingHttpClient, uid: str) -> Iterator[Factory]:
    factory = Factory(recording_client(target, recorder), uid)
    yield factory
    factory.undo()


def test_api_answers_match_the_sdk_models(
    target: Target, recorder: RecordingHttpClient, recorded_make: Factory
) -> None:
    """Catalog, customers, schedule create and release, subscription and item updates, cancellation,
    invoices (retrieve, update, finalize, pay, send, void, list), meter events (v1, session, stream) and
    summaries, webhook endpoints, and the events all of it recorded (``GET /v1/events``, whose
    ``data.object`` is checked as the object it is): each answer against the SDK's class for its ``object``."""
    client = recorded_make.client
    started = target.now()
    catalog = _catalog_flow(client, recorded_make)
    _billing_flow(client, recorded_make, catalog)
    _usage_flow(client, recorded_make, target, recorder)
    _webhook_endpoint_flow(client)
    recorded_make.undo()  # deletes the customers: deleted objects are answers too
    for event in client.v1.events.list({"created": {"gte": started}, "limit": 100}).auto_paging_iter():
        client.v1.events.retrieve(event.id)
    answered = {body.get("object") for _, _, body in recorder.bodies}
    assert {"product", "price", "billing.meter", "customer", "subscription_schedule", "subscription"} <= answered
    assert {"subscription_item", "invoice", "billing.meter_event", "v2.billing.meter_event_session"} <= answered
    assert {"webhook_endpoint", "list", "event"} <= answered
    assert_match_the_sdk([body for _, _, body in recorder.bodies])


def test_webhook_payloads_and_clock_driven_objects_match_the_sdk_models(
    emulator: StripeEmulator, recorder: RecordingHttpClient
) -> None:
    """Emulator only (its clock): the snapshot events delivered to a webhook endpoint and the thin
    notifications delivered to an event destination (https://docs.stripe.com/event-destinations#thin-payload),
    across a schedule's first invoice finalized by the clock, a renewal with usage and pending prorations
    attached, meter errors (``error_report_triggered`` and ``no_meter_found``), and the thin events fetched
    with ``GET /v2/core/events/{id}``; then every recorded event and thin event."""
    target = Target("emulator", EMULATOR_API_KEY, emulator.url, emulator)
    snapshot, thin = Receiver(), Receiver()
    try:
        emulator.add_webhook_endpoint(snapshot.url, SNAPSHOT_SECRET)
        emulator.add_webhook_endpoint(thin.url, THIN_SECRET, sorted(THIN_EVENT_TYPES), event_payload="thin")
        client = recording_client(target, recorder)
        make = Factory(client, "models")
        catalog = make.catalog()
        customer = make.customer(name="Models Renewal")
        schedule = make.schedule(customer.id, catalog)
        emulator.advance_clock(2 * 3600)  # the first invoice is finalized by the clock
        subscription = client.v1.subscriptions.retrieve(str(schedule.subscription))
        seat_item = next(item for item in subscription["items"].data if item.price.id == catalog.seat.id)
        client.v1.subscription_items.update(seat_item.id, {"quantity": 11, "proration_behavior": "create_prorations"})
        client.v1.subscription_schedules.release(schedule.id)  # a subscription on its schedule does not renew
        case_meter = client.v1.billing.meters.retrieve(str(catalog.case["recurring"]["meter"]))
        client.v1.billing.meter_events.create(
            {"event_name": case_meter.event_name, "payload": {"stripe_customer_id": customer.id, "value": "4"}}
        )
        _usage_flow(client, make, target, recorder)
        emulator.advance_clock(32 * 86_400)  # renewal (pending items attached)
        # The renewal draft finalizes an hour after its invoice.created webhooks (delivered in real time).
        assert emulator.wait_for_deliveries(timeout=15)
        emulator.advance_clock(2 * 3600)
        for thin_event in emulator.thin_events():
            client.v2.core.events.retrieve(thin_event["id"])
        assert emulator.wait_for_deliveries(timeout=15)
        delivered = [json.loads(request.body) for request in snapshot.received]
        notifications = [json.loads(request.body) for request in thin.received]
    finally:
        snapshot.close()
        thin.close()
    types = {event["type"] for event in delivered}
    assert {"invoice.created", "invoice.finalized", "customer.subscription.updated", "invoiceitem.created"} <= types
    renewals = [
        event["data"]["object"]
        for event in delivered
        if event["type"] == "invoice.finalized" and event["data"]["object"]["billing_reason"] == "subscription_cycle"
    ]
    assert renewals, "no renewal invoice was finalized"
    assert {event["type"] for event in notifications} == {
        "v1.billing.meter.error_report_triggered",
        "v1.billing.meter.no_meter_found",
    }
    assert_match_the_sdk(delivered + emulator.events() + emulator.thin_events())
    assert_match_the_sdk([body for _, _, body in recorder.bodies])
    assert_match_the_sdk(notifications, thin_notifications=True)


def test_event_types_are_the_sdks() -> None:
    """The emulator records only, and endpoints accept only, the event types Stripe sends: the SDK's
    ``Event.type`` literal (= ``WebhookEndpointCreateParams.enabled_events`` without ``*``) and its thin event
    classes (https://docs.stripe.com/api/events/types). ``invoiceitem.updated`` is in neither."""
    snapshot_types = set(typing.get_args(stripe.Event.__annotations__["type"]))
    enabled_events = typing.get_args(typing.get_args(WebhookEndpointCreateParams.__annotations__["enabled_events"])[0])
    assert SNAPSHOT_EVENT_TYPES == snapshot_types == set(enabled_events) - {"*"}
    assert set(_V2_EVENT_CLASS_LOOKUP) == THIN_EVENT_TYPES
    assert "invoiceitem.updated" not in SNAPSHOT_EVENT_TYPES


def test_endpoints_refuse_event_types_stripe_does_not_send(client: stripe.StripeClient, target: Target) -> None:
    """``enabled_events`` takes ``*`` or event types Stripe sends
    (https://docs.stripe.com/api/webhook_endpoints/create#create_webhook_endpoint-enabled_events)."""
    for wrong in ("invoiceitem.updated", "invoice.exploded"):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.webhook_endpoints.create(
                unchecked({"url": "https://example.com/models", "enabled_events": ["invoice.created", wrong]})
            )
        assert caught.value.http_status == 400
        if target.is_emulator:
            assert caught.value.param == "enabled_events[1]"


def test_thin_destinations_take_thin_event_types(emulator: StripeEmulator) -> None:
    """Emulator-only registration: a thin event destination takes thin event types, a snapshot endpoint
    snapshot ones (https://docs.stripe.com/event-destinations)."""
    emulator.add_webhook_endpoint(
        "https://example.com/thin", THIN_SECRET, ["v1.billing.meter.no_meter_found"], event_payload="thin"
    )
    with pytest.raises(ValueError, match=r"invoice\.created"):
        emulator.add_webhook_endpoint(
            "https://example.com/thin", THIN_SECRET, ["invoice.created"], event_payload="thin"
        )
    with pytest.raises(ValueError, match=r"no_meter_found"):
        emulator.add_webhook_endpoint("https://example.com/hook", SNAPSHOT_SECRET, ["v1.billing.meter.no_meter_found"])


# the checker itself ------------------------------------------------------------------------------
def test_the_checker_finds_each_kind_of_difference(emulator: StripeEmulator, recorder: RecordingHttpClient) -> None:
    """The checker itself: it accepts a good object and names an unknown field, a missing required field,
    a value outside a literal, a wrong ``object``, a wrong type, also inside nested objects and lists."""
    client = recording_client(Target("emulator", EMULATOR_API_KEY, emulator.url, emulator), recorder)
    make = Factory(client, "checker")
    schedule = make.schedule(make.customer().id, make.catalog())
    client.v1.invoices.retrieve(str(client.v1.subscriptions.retrieve(str(schedule.subscription)).latest_invoice))
    good = recorder.bodies[-1][2]
    assert good["object"] == "invoice"
    assert_match_the_sdk([good])
    bad = json.loads(json.dumps(good))
    bad["surprise"] = 1
    del bad["amount_due"]
    bad["status"] = "pending"
    bad["collection_method"] = 7
    bad["lines"]["data"][0]["object"] = "invoiceitem"
    bad["status_transitions"]["voided_at"] = "yesterday"
    found = {(difference.kind, difference.where) for difference in sdk_models.check(bad)}
    assert {
        ("unknown_field", "invoice.surprise"),
        ("missing_field", "invoice.amount_due"),
        ("enum_value", "invoice.status"),
        ("enum_value", "invoice.collection_method"),
        ("object_value", "line_item.object"),
        ("type", "invoice.status_transitions.voided_at"),
    } <= found
    assert sdk_models.check({"object": "no_such_thing"})[0].kind == "object_value"
    assert [d.where for d in sdk_models.check({"id": "cus_1", "object": "customer", "deleted": True})] == []
    event = {
        "id": "evt_1",
        "object": "event",
        "api_version": None,
        "created": 1,
        "data": {"object": {"id": "cus_1", "object": "customer", "deleted": True, "x": 1}},
        "livemode": False,
        "pending_webhooks": 0,
        "request": None,
        "type": "invoiceitem.updated",
    }
    assert {(d.kind, d.where) for d in sdk_models.check(event)} == {
        ("enum_value", "event.type"),
        ("unknown_field", "customer.x"),
    }
    notification: dict[str, Any] = {"id": "evt_t", "object": "v2.core.event", "type": "v1.billing.meter.no_meter_found"}
    notification |= {"created": "2026-01-01T00:00:00.000Z", "livemode": False, "context": None, "reason": None}
    assert sdk_models.check_thin_notification(notification) == []
    assert [d.where for d in sdk_models.check_thin_notification({**notification, "related_object": {}})] == [
        "v2.core.event(notification).related_object"
    ]


def test_the_sdk_shaped_test_payloads_match_the_sdk_models() -> None:
    """tests/stripe_fixtures.py builds the webhook processor's test payloads from the same classes: they carry
    every field the SDK declares (``deleted`` only on a deleted object) and the checker finds no difference."""
    invoice = stripe_fixtures.invoice_object("in_1", "cus_1", subscription_id="sub_1", line_count=2)
    subscription = stripe_fixtures.subscription_object("sub_1", "cus_1", [("si_1", "price_1", "prod_1")])
    customer = stripe_fixtures.customer_object("cus_1", deleted=True)
    assert set(invoice) == set(field_hints(stripe.Invoice)) - {"deleted"}
    assert set(subscription) == set(field_hints(stripe.Subscription)) - {"deleted"}
    assert set(customer) == set(field_hints(stripe.Customer))
    payloads = [
        stripe_fixtures.event("evt_1", "invoice.paid", invoice, created=1),
        stripe_fixtures.event("evt_2", "customer.subscription.updated", subscription, created=1),
        stripe_fixtures.event("evt_3", "customer.deleted", customer, created=1),
    ]
    assert set(payloads[0]) == set(field_hints(stripe.Event))
    assert [str(d) for payload in payloads for d in sdk_models.check(payload)] == []
