"""The emulator's test controls and its standalone entry point (emulator only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import stripe

from stripe_emulator import EmulatorControl, EmulatorControlError, StripeEmulator
from tests.emulator.support import make_client
from tests.support import EMULATOR_API_KEY

DEVTOOLS = Path(__file__).resolve().parents[2] / "devtools"


def test_clock_controls_created_timestamps(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """Objects are stamped with the emulator clock, which tests move forward."""
    before = requests.get(f"{emulator.url}/_emulator/clock", timeout=5).json()["now"]
    moved = requests.post(f"{emulator.url}/_emulator/clock", json={"advance_seconds": 3600}, timeout=5).json()["now"]
    assert moved - before in (3600, 3601)
    assert emulator_client.v1.customers.create({}).created - moved in (0, 1)

    target = moved + 86400
    assert emulator.set_clock(target) == target
    assert emulator_client.v1.products.create({"name": "p"}).created - target in (0, 1)
    assert emulator.advance_clock(60) - target in (60, 61)


def test_clock_only_moves_forward(emulator: StripeEmulator) -> None:
    """A clock that jumps back would break ordering; the control refuses it."""
    response = requests.post(f"{emulator.url}/_emulator/clock", json={"now": emulator.now() - 3600}, timeout=5)
    assert response.status_code == 400
    with pytest.raises(ValueError, match="forward"):
        emulator.advance_clock(-1)


def test_reset_forgets_everything(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """``POST /_emulator/reset`` clears objects, faults, keys, the log and the clock offset."""
    customer = emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "k"})
    emulator.inject_fault("/v1/products", status=500)
    emulator.advance_clock(10 * 86400)
    assert requests.post(f"{emulator.url}/_emulator/reset", timeout=5).json() == {"ok": True}

    assert emulator.faults() == []
    assert emulator.requests_log() == []
    assert abs(emulator.now() - requests.get(f"{emulator.url}/_emulator/clock", timeout=5).json()["now"]) <= 1
    with pytest.raises(stripe.InvalidRequestError):
        emulator_client.v1.customers.retrieve(customer.id)
    again = emulator_client.v1.customers.create({"name": "B"}, {"idempotency_key": "k"})
    assert again.name == "B"


def test_request_log_counts_stripe_calls(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """``GET /_emulator/requests`` lists every API request served (controls excluded); ``DELETE`` clears it."""
    customer = emulator_client.v1.customers.create({"name": "A"}, {"idempotency_key": "k-log"})
    emulator_client.v1.customers.retrieve(customer.id)
    with pytest.raises(stripe.InvalidRequestError):
        emulator_client.v1.customers.retrieve("cus_missing")
    entries = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()["data"]
    assert [(entry["method"], entry["path"], entry["status"], entry["idempotency_key"]) for entry in entries] == [
        ("POST", "/v1/customers", 200, "k-log"),
        ("GET", f"/v1/customers/{customer.id}", 200, None),
        ("GET", "/v1/customers/cus_missing", 404, None),
    ]
    assert all(entry["request_id"].startswith("req_") and entry["time"] > 0 for entry in entries)
    assert requests.delete(f"{emulator.url}/_emulator/requests", timeout=5).status_code == 200
    assert emulator.requests_log() == []


def test_request_log_names_the_key_each_request_used_masked(emulator: StripeEmulator) -> None:
    """Each logged request carries the API key it presented, masked as Stripe shows keys in its errors
    (https://docs.stripe.com/keys): enough to tell a rotated key from the old one, never the key itself."""
    make_client("sk_test_before_rotation_0001", emulator.url).v1.customers.list()
    make_client("sk_test_after_rotation_0002", emulator.url).v1.customers.list()
    with pytest.raises(stripe.AuthenticationError):
        make_client("", emulator.url).v1.customers.list()
    assert [entry["api_key"] for entry in emulator.requests_log()] == [
        "sk_test_" + "*" * 16 + "0001",
        "sk_test_" + "*" * 15 + "0002",
        None,
    ]


def test_control_client_drives_a_remote_emulator(emulator: StripeEmulator) -> None:
    """``EmulatorControl`` wraps the HTTP controls for emulators in other processes."""
    control = EmulatorControl(emulator.url)
    assert control.health() is True
    control.inject_fault("/v1/customers", status=429, count=1)
    assert len(emulator.faults()) == 1
    control.clear_faults()
    assert control.advance_clock(100) - control.now() in (0, -1)
    make_client(EMULATOR_API_KEY, emulator.url).v1.customers.list()
    assert len(control.requests_log()) == 1
    control.reset()
    assert control.requests_log() == []
    with pytest.raises(EmulatorControlError):
        control.inject_fault("/v1", status=418)


def test_unknown_control_is_404(emulator: StripeEmulator) -> None:
    assert requests.get(f"{emulator.url}/_emulator/nothing", timeout=5).status_code == 404


def test_rk_test_keys_are_accepted(emulator: StripeEmulator) -> None:
    """Restricted test keys authenticate like secret ones (https://docs.stripe.com/keys#limit-access)."""
    assert make_client("rk_test_restricted", emulator.url).v1.customers.list().data == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_standalone_server_starts_answers_and_stops(stop_signal: signal.Signals) -> None:
    """``python -m stripe_emulator --port 0`` prints its URL, serves the API, and exits 0 on a signal."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(DEVTOOLS), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_emulator", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Stripe emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        assert requests.get(f"{url}/_emulator/health", timeout=5).json() == {"ok": True}
        client = make_client(EMULATOR_API_KEY, url)
        assert client.v1.customers.create({"name": "Standalone"}).name == "Standalone"
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_meter_controls_over_http(emulator: StripeEmulator, emulator_client: stripe.StripeClient) -> None:
    """``EmulatorControl`` reads the counted meter events and the thin events, sets the processing lag, and
    registers thin event destinations, as the Python twins do (README, Test controls)."""
    control = EmulatorControl(emulator.url)
    meter = emulator_client.v1.billing.meters.create(
        {"display_name": "Cases", "event_name": "ctl_cases", "default_aggregation": {"formula": "sum"}}
    )
    customer = emulator_client.v1.customers.create({"name": "A"})
    for customer_id in (customer.id, "cus_Unknown0000001"):
        emulator_client.v1.billing.meter_events.create(
            {"event_name": "ctl_cases", "payload": {"stripe_customer_id": customer_id, "value": "2"}}
        )
    assert [(usage["meter"], usage["value"]) for usage in control.meter_events()] == [(meter.id, "2")]
    assert [event["type"] for event in control.thin_events()] == ["v1.billing.meter.error_report_triggered"]
    control.set_meter_processing_lag(45)
    assert control.meter_processing_lag() == 45 == emulator.meter_processing_lag()
    with pytest.raises(EmulatorControlError):
        control.set_meter_processing_lag(-1)
    destination = control.add_webhook_endpoint(
        "http://127.0.0.1:9/thin", "whsec_thin", ["v1.billing.meter.error_report_triggered"], event_payload="thin"
    )
    assert destination["secret"] == "whsec_thin"
    with pytest.raises(EmulatorControlError):
        control.add_webhook_endpoint("http://127.0.0.1:9/x", "whsec_x", ["*"], event_payload="fat")
