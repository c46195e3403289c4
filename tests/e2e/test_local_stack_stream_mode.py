"""End to end: `make local` with `LOCAL_PARAMETER_OVERRIDES="MeterEventMode=stream"` reports usage through the
v2 meter event stream (the SDK's `meter_events` base address points at the emulator too). Stripe validates
streamed events asynchronously, so the ledger keeps them pending until the reconciler confirms them."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from local_stack.process import LocalStackProcess

pytestmark = pytest.mark.e2e


def _call(method: str, url: str, payload: Any = None) -> tuple[int, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    # This test reads Stripe's summaries at once: no processing lag (the local stack's default is 60 s).
    env = {"LOCAL_PARAMETER_OVERRIDES": "MeterEventMode=stream", "STRIPE_EMULATOR_METER_LAG_SECONDS": "0"}
    with LocalStackProcess(env=env) as process:
        yield process


def test_usage_is_streamed_and_pending_until_confirmed(stack: LocalStackProcess) -> None:
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": stack.stripe_url})
    customer = str(client.v1.customers.create({"name": "Stream Clinic"}).id)
    base = f"{stack.api_url}/funders/stream-demo"
    assert _call("PUT", base, {"name": "Stream Clinic", "stripe_customer_id": customer})[0] == 200
    assert _call("POST", f"{base}/subscription", {})[0] == 201
    time.sleep(1.5)  # usage after the subscription's start (Stripe times have whole seconds)
    occurred = datetime.now(UTC).isoformat()
    for i in range(3):
        body = {"usage_id": f"stream-{i}", "kind": "sms", "quantity": 3, "occurred_at": occurred}
        assert _call("POST", f"{base}/usage", body)[0] == 202

    meter = next(m for m in client.v1.billing.meters.list().data if m.event_name == "incytes_sms")
    minute = int(time.time()) // 60 * 60
    window = {"customer": customer, "start_time": minute - 3600, "end_time": minute + 120}
    deadline = time.monotonic() + 30
    counted = 0
    while time.monotonic() < deadline and counted < 9:
        summaries = client.v1.billing.meters.event_summaries.list(meter.id, window)  # type: ignore[arg-type]
        counted = int(sum(s.aggregated_value for s in summaries.data))
        time.sleep(0.5)
    assert counted == 9  # one streamed meter event, counted by Stripe
    totals = _call("GET", f"{base}/usage")[1]["totals"]["sms"]
    assert totals == {"recorded": 9, "reported": 0, "pending": 9, "failed": 0, "unbillable": 0}
