"""Meter event summaries (https://docs.stripe.com/api/billing/meter-event-summary/list): what a customer used
on a meter over a minute-aligned range, aggregated by the meter's formula.

Stripe aggregates asynchronously ("meter event summaries provide an eventually consistent view"), so the
real-Stripe runs poll with ``eventually``; the emulator answers at once unless told to lag.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, Target, error_of, eventually

HOUR = 3600


def send(client: stripe.StripeClient, meter: stripe.billing.Meter, customer: str, value: str, timestamp: int) -> None:
    params: Any = {
        "event_name": meter.event_name,
        "payload": {"stripe_customer_id": customer, "value": value},
        "timestamp": timestamp,
    }
    client.v1.billing.meter_events.create(params)


def summaries(
    client: stripe.StripeClient, meter: stripe.billing.Meter, customer: str, start: int, end: int, **extra: Any
) -> list[stripe.billing.MeterEventSummary]:
    params: Any = {"customer": customer, "start_time": start, "end_time": end, **extra}
    return list(client.v1.billing.meters.event_summaries.list(meter.id, params).data)


def settled(
    client: stripe.StripeClient, meter: stripe.billing.Meter, customer: str, start: int, end: int, expected: float
) -> stripe.billing.MeterEventSummary:
    """The single summary of the range, once it shows ``expected`` (Stripe's aggregation lags)."""

    def probe() -> stripe.billing.MeterEventSummary | None:
        found = summaries(client, meter, customer, start, end)
        return found[0] if found and found[0].aggregated_value == expected else None

    return eventually(probe, timeout=180, every=5)


def test_summary_sums_a_customers_usage_in_the_range(
    client: stripe.StripeClient, make: Factory, target: Target
) -> None:
    """``aggregated_value`` sums the customer's events with ``start_time <= timestamp < end_time``; other
    customers' events and events outside the range do not count
    (https://docs.stripe.com/api/billing/meter-event-summary/object)."""
    customer, other = make.customer(), make.customer()
    meter = make.meter()
    now = target.now()
    start = now - now % 60 - 2 * HOUR
    end = now - now % 60 + 60
    send(client, meter, customer.id, "3", start)
    send(client, meter, customer.id, "4", now - 60)
    send(client, meter, customer.id, "100", start - 1)
    send(client, meter, other.id, "50", now - 60)
    summary = settled(client, meter, customer.id, start, end, 7)
    assert summary.object == "billing.meter_event_summary"
    assert (summary.meter, summary.start_time, summary.end_time, summary.livemode) == (meter.id, start, end, False)
    assert str(summary.id).startswith("mtrusg_")


@pytest.mark.parametrize(("formula", "expected"), [("count", 3), ("last", 9)])
def test_count_and_last_formulas(
    client: stripe.StripeClient, make: Factory, target: Target, formula: str, expected: int
) -> None:
    """``count`` counts events, ``last`` takes the latest event's value
    (https://docs.stripe.com/api/billing/meter/create#create_billing_meter-default_aggregation-formula)."""
    customer = make.customer()
    meter = make.meter(default_aggregation={"formula": formula})
    now = target.now()
    start = now - now % 60 - HOUR
    end = now - now % 60 + 60
    for value, age in (("5", 600), ("9", 60), ("2", 1200)):
        send(client, meter, customer.id, value, now - age)
    assert settled(client, meter, customer.id, start, end, expected).aggregated_value == expected


def test_bounds_must_be_minute_aligned(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """``start_time`` and ``end_time`` "Must be aligned with minute boundaries"
    (https://docs.stripe.com/api/billing/meter-event-summary/list)."""
    customer = make.customer()
    meter = make.meter()
    now = target.now()
    start = now - now % 60 - HOUR
    for bad_start, bad_end, param in ((start + 7, start + 600, "start_time"), (start, start + 601, "end_time")):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            summaries(client, meter, customer.id, bad_start, bad_end)
        assert caught.value.http_status == 400
        if target.is_emulator:
            assert error_of(caught.value)["param"] == param


def test_hourly_grouping(client: stripe.StripeClient, make: Factory, target: Target) -> None:
    """``value_grouping_window=hour`` answers one summary per hour, newest first, with hour-aligned bounds
    (https://docs.stripe.com/api/billing/meter-event-summary/list#list_billing_meter_event_summaries-value_grouping_window)."""
    customer = make.customer()
    meter = make.meter()
    now = target.now()
    this_hour = now - now % HOUR
    send(client, meter, customer.id, "2", this_hour - 2 * HOUR + 30)
    send(client, meter, customer.id, "3", this_hour - 2 * HOUR + 900)
    send(client, meter, customer.id, "5", this_hour - HOUR + 10)
    start, end = this_hour - 3 * HOUR, this_hour + HOUR

    def probe() -> list[tuple[int, float]] | None:
        found = summaries(client, meter, customer.id, start, end, value_grouping_window="hour")
        values = [(summary.start_time, summary.aggregated_value) for summary in found if summary.aggregated_value]
        return values if sum(value for _, value in values) == 10 else None

    assert eventually(probe, timeout=180, every=5) == [(this_hour - HOUR, 5), (this_hour - 2 * HOUR, 5)]
    with pytest.raises(stripe.InvalidRequestError):  # hour grouping needs hour-aligned bounds
        summaries(client, meter, customer.id, start + 60, end, value_grouping_window="hour")
    with pytest.raises(stripe.InvalidRequestError):  # day grouping needs UTC-day bounds
        summaries(client, meter, customer.id, start, end, value_grouping_window="day")


def test_unknown_meter_is_404(client: stripe.StripeClient, make: Factory) -> None:
    """Summaries of an unknown meter: 404 ``resource_missing``."""
    customer = make.customer()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meters.event_summaries.list(
            "mtr_test_61NoSuchMeter000000000000000000", {"customer": customer.id, "start_time": 0, "end_time": 60}
        )
    assert caught.value.http_status == 404
    assert error_of(caught.value)["code"] == "resource_missing"


def test_processing_lag_control(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Emulator control ``processing_lag_seconds``: summaries (and invoices) see an event only that long
    after it arrived, as Stripe's asynchronous aggregation lags (recording-usage-api: "aggregated usage in
    meter event summaries ... might not immediately reflect recently received meter events")."""
    make = Factory(emulator_client, "lag")
    customer = make.customer()
    meter = make.meter()
    emulator.set_meter_processing_lag(30)
    assert emulator.meter_processing_lag() == 30
    now = emulator.now()
    start, end = now - now % 60 - HOUR, now - now % 60 + 120
    send(emulator_client, meter, customer.id, "6", now)
    assert summaries(emulator_client, meter, customer.id, start, end)[0].aggregated_value == 0
    emulator.advance_clock(31)
    assert summaries(emulator_client, meter, customer.id, start, end)[0].aggregated_value == 6
    emulator.reset()
    assert emulator.meter_processing_lag() == 0


def test_pagination(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Grouped summaries page like every list (``limit``, ``starting_after``, ``ending_before``,
    https://docs.stripe.com/pagination)."""
    make = Factory(emulator_client, "pages")
    customer = make.customer()
    meter = make.meter()
    now = emulator.now()
    this_hour = now - now % HOUR
    for hours_ago in range(1, 6):
        send(emulator_client, meter, customer.id, str(hours_ago), this_hour - hours_ago * HOUR)
    start, end = this_hour - 6 * HOUR, this_hour + HOUR
    first = emulator_client.v1.billing.meters.event_summaries.list(
        meter.id,
        {"customer": customer.id, "start_time": start, "end_time": end, "value_grouping_window": "hour", "limit": 2},
    )
    assert [summary.aggregated_value for summary in first.data] == [1, 2]
    assert first.has_more
    every = [
        summary.aggregated_value
        for summary in emulator_client.v1.billing.meters.event_summaries.list(
            meter.id,
            {
                "customer": customer.id,
                "start_time": start,
                "end_time": end,
                "value_grouping_window": "hour",
                "limit": 2,
            },
        ).auto_paging_iter()
    ]
    assert every == [1, 2, 3, 4, 5]
