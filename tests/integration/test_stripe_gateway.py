"""StripeGateway: the one adapter to Stripe, through the real SDK against the emulator."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import stripe

from incytes_billing import invocation
from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeSettings
from incytes_billing.errors import StripeRejected, StripeUnavailable
from incytes_billing.models.catalog import MeterSpec, PriceSpec, ProductSpec
from incytes_billing.models.usage import MeterBatch
from incytes_billing.wiring.catalog_sync import run_catalog_sync
from stripe_emulator import StripeEmulator
from tests.support import EMULATOR_API_KEY, invoice_with_lines


def settings(api_base: str, **changes: object) -> StripeSettings:
    values: dict[str, object] = {
        "api_base": api_base,
        "timeout_seconds": 2.0,
        "max_network_retries": 0,
        "rate_limit_attempts": 3,
        "rate_limit_backoff_seconds": 0.0,
    }
    values.update(changes)
    return StripeSettings(**values)  # type: ignore[arg-type]


def gateway_for(api_base: str, **changes: object) -> tuple[StripeGateway, list[float]]:
    sleeps: list[float] = []
    config = settings(api_base, **changes)
    return StripeGateway(build_stripe_client(EMULATOR_API_KEY, config), config, sleep=sleeps.append), sleeps


def test_customer_lookup_distinguishes_missing_and_deleted(stripe_api: str, stripe_client: stripe.StripeClient) -> None:
    gateway, _ = gateway_for(stripe_api)
    live = stripe_client.v1.customers.create({"name": "Live"})
    gone = stripe_client.v1.customers.create({"name": "Gone"})
    stripe_client.v1.customers.delete(gone.id)

    found = gateway.get_customer(live.id)
    assert found is not None
    assert (found.deleted, found.currency) == (False, None)
    deleted = gateway.get_customer(gone.id)
    assert deleted is not None
    assert deleted.deleted is True
    assert gateway.get_customer("cus_Unknown") is None


def test_rate_limit_is_backed_off_by_the_adapter(stripe_api: str, stripe_emulator: StripeEmulator) -> None:
    """The SDK retries a 429 only with Stripe-Should-Retry: true; the adapter backs off itself."""
    gateway, sleeps = gateway_for(stripe_api)
    stripe_emulator.inject_fault(path_prefix="/v1/customers", status=429, count=2)
    assert gateway.get_customer("cus_Unknown") is None
    assert len(sleeps) == 2

    stripe_emulator.inject_fault(path_prefix="/v1/customers", status=429, count=3)
    with pytest.raises(StripeUnavailable, match="throttling"):
        gateway.get_customer("cus_Unknown")


def test_backoff_grows_with_jitter(stripe_api: str, stripe_emulator: StripeEmulator) -> None:
    gateway, sleeps = gateway_for(stripe_api, rate_limit_attempts=4, rate_limit_backoff_seconds=0.5)
    stripe_emulator.inject_fault(path_prefix="/v1/customers", status=429, count=3)
    gateway.get_customer("cus_Unknown")
    assert [0.5 <= sleeps[0] <= 1.0, 1.0 <= sleeps[1] <= 2.0, 2.0 <= sleeps[2] <= 4.0] == [True] * 3


def test_unreachable_stripe_is_unavailable() -> None:
    gateway, _ = gateway_for("http://127.0.0.1:9")
    with pytest.raises(StripeUnavailable):
        gateway.get_customer("cus_Anything")


def test_bad_credentials_are_unavailable_not_the_callers_fault(stripe_api: str) -> None:
    config = settings(stripe_api)
    gateway = StripeGateway(build_stripe_client("sk_live_wrong", config), config)
    with pytest.raises(StripeUnavailable, match="credentials"):
        gateway.get_customer("cus_Anything")


def test_stripe_refusal_carries_stripes_message(stripe_api: str) -> None:
    gateway, _ = gateway_for(stripe_api)
    spec = PriceSpec("k_usd", "prod_missing", "usd", Decimal(100), "licensed", None, "exclusive")
    with pytest.raises(StripeRejected, match="prod_missing"):
        gateway.create_price(spec, meter_id=None, replacing=None)


def test_posts_carry_deterministic_idempotency_keys(stripe_api: str, stripe_emulator: StripeEmulator) -> None:
    gateway, _ = gateway_for(stripe_api)
    gateway.create_product(ProductSpec("incytes_test", "Test", "unit"))
    meter = gateway.create_meter(MeterSpec("test_event", "Test"))
    spec = PriceSpec("test_usd", "incytes_test", "usd", Decimal("2.5"), "metered", "test_event", "exclusive")
    first = gateway.create_price(spec, meter_id=meter.meter_id, replacing=None)
    # A retry of the same logical request (e.g. after a timeout) replays instead of creating a twin.
    again = gateway.create_price(spec, meter_id=meter.meter_id, replacing=None)
    assert again.price_id == first.price_id
    assert first.unit_amount_decimal == Decimal("2.5")
    posts = [entry for entry in stripe_emulator.requests_log() if entry["method"] == "POST"]
    assert posts
    assert all(entry["idempotency_key"] for entry in posts)
    assert posts[-1]["idempotent_replayed"] is True


def test_invoice_lines_are_read_whole_past_the_embedded_page(
    stripe_api: str, stripe_client: stripe.StripeClient
) -> None:
    """An invoice embeds the first page of its lines only; GET /v1/invoices/{id}/lines lists them all
    (https://docs.stripe.com/api/invoice-line-item/retrieve)."""
    gateway, _ = gateway_for(stripe_api)
    customer = stripe_client.v1.customers.create({"name": "Many lines"})
    invoice = stripe_client.v1.invoices.retrieve(invoice_with_lines(stripe_client, customer.id, 12))

    lines = gateway.invoice_lines(invoice.id)

    assert len(lines) == 12
    assert sorted(line.amount for line in lines) == [2 * (100 + n) for n in range(12)]
    assert {line.quantity for line in lines} == {2}
    assert sum(line.amount for line in lines) == invoice.subtotal
    # Each line's `period` is what it bills: on a first invoice, the month ahead, not the invoice's one moment.
    assert invoice.period_start == invoice.period_end
    assert {(line.period_start, line.period_end) for line in lines} == {
        (invoice.lines.data[0].period.start, invoice.lines.data[0].period.end)
    }
    assert all(line.period_end is not None and line.period_end > invoice.period_start for line in lines)


def stream_batch(customer_id: str, identifier: str, value: int, timestamp: int) -> MeterBatch:
    return MeterBatch(
        batch_id=identifier,
        funder_id="f1",
        kind="case",
        customer_id=customer_id,
        event_name="incytes_case",
        value=value,
        timestamp=timestamp,
        record_ids=[identifier],
        identifier=identifier,
        created_at=timestamp,
    )


def test_meter_event_stream_reuses_its_session_and_renews_an_expired_one(
    stripe_api: str, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    """One session token serves many stream requests; when Stripe says it expired
    (TemporarySessionExpiredError), one new session and one retry (https://docs.stripe.com/api/v2/billing/meter-event-stream)."""
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    customer = stripe_client.v1.customers.create({"name": "Streamer"}).id
    gateway, _ = gateway_for(stripe_api)
    now = stripe_emulator.now()
    gateway.stream_meter_events([stream_batch(customer, "s1", 2, now)])
    gateway.stream_meter_events([stream_batch(customer, "s2", 3, now)])
    stripe_emulator.advance_clock(16 * 60)  # the token expires by Stripe's clock, not by ours
    later = stripe_emulator.now()
    gateway.stream_meter_events([stream_batch(customer, "s3", 4, later)])
    log = stripe_emulator.requests_log()
    assert [entry["path"] for entry in log].count("/v2/billing/meter_event_session") == 2
    assert [e["status"] for e in log if e["path"] == "/v2/billing/meter_event_stream"] == [200, 200, 401, 200]
    start = now // 60 * 60
    assert gateway.meter_total("incytes_case", customer, start, later // 60 * 60 + 60) == 9


class FakeContext:
    def __init__(self, seconds: float) -> None:
        self.aws_request_id = "req-deadline"
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def test_stripe_calls_stop_before_the_invocations_deadline(stripe_api: str, stripe_emulator: StripeEmulator) -> None:
    """Issue 9 §1: two 9 s hangs took 28 s and API Gateway answered 502. With 4 s left and 1 s kept to answer,
    hangs longer than the time left end as StripeUnavailable (a 503 with Retry-After) within the budget."""
    gateway, _ = gateway_for(stripe_api, timeout_seconds=8.0, max_network_retries=2, answer_margin_seconds=1.0)
    stripe_emulator.inject_fault(path_prefix="/v1/customers", hang_seconds=5, count=3)
    invocation.begin(FakeContext(4.0))
    started = time.monotonic()
    try:
        with pytest.raises(StripeUnavailable):
            gateway.get_customer("cus_Unknown")
        assert time.monotonic() - started < 3.5
        with pytest.raises(StripeUnavailable):  # no time left at all: no request is started
            gateway.get_customer("cus_Unknown")
    finally:
        invocation.begin(None)


def test_a_write_after_a_saved_500_reads_stripe_then_tries_a_new_key(
    stripe_api: str, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    """Stripe replays a saved 500 to every retry with its key for 24 h
    (https://docs.stripe.com/api/idempotent_requests): a second attempt must use another key."""
    gateway, _ = gateway_for(stripe_api)
    customer = stripe_client.v1.customers.create({"name": "Keys"})
    price = stripe_client.v1.prices.create(
        {"currency": "usd", "unit_amount": 100, "recurring": {"interval": "month"}, "product_data": {"name": "Seat"}}
    )
    subscription = stripe_client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
        }
    )
    invoice = stripe_client.v1.invoices.retrieve(str(subscription.latest_invoice))
    assert (invoice.status, invoice.auto_advance) == ("draft", True)
    stripe_emulator.inject_fault(f"/v1/invoices/{invoice.id}", method="POST", status=500, count=1)

    held = gateway.hold_invoice(str(invoice.id))

    assert (held.status, held.auto_advance) == ("draft", False)
    keys = [
        e["idempotency_key"]
        for e in stripe_emulator.requests_log()
        if e["path"] == f"/v1/invoices/{invoice.id}" and e["method"] == "POST"
    ]
    assert len(keys) == 2
    assert keys[0] != keys[1]
