"""Catalog bootstrap through the real Stripe SDK against the emulator (`make catalog`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe

from incytes_billing.catalog.__main__ import main as catalog_main
from incytes_billing.models.catalog import CATALOG_FILE
from incytes_billing.wiring.catalog_sync import run_catalog_sync

API_KEY = "sk_test_emulator"


def test_bootstrap_creates_catalog_then_changes_nothing(stripe_api: str, stripe_client: stripe.StripeClient) -> None:
    first = run_catalog_sync(API_KEY, stripe_api)
    assert any(line.startswith("created meter incytes_case") for line in first)
    assert run_catalog_sync(API_KEY, stripe_api) == []

    prices = stripe_client.v1.prices.list(
        {"lookup_keys": ["incytes_seat_usd", "incytes_case_eur", "incytes_sms_usd"], "active": True}
    ).data
    by_key = {price.lookup_key: price for price in prices}
    seat = by_key["incytes_seat_usd"]
    assert (seat.unit_amount, seat.currency, seat.tax_behavior) == (3500, "usd", "exclusive")
    assert seat.recurring is not None
    assert (seat.recurring.interval, seat.recurring.usage_type) == ("month", "licensed")
    case = by_key["incytes_case_eur"]
    assert case.recurring is not None
    assert case.recurring.usage_type == "metered"
    assert case.recurring.meter is not None
    meter = stripe_client.v1.billing.meters.retrieve(case.recurring.meter)
    assert (meter.event_name, meter.default_aggregation.formula) == ("incytes_case", "sum")
    assert meter.customer_mapping.event_payload_key == "stripe_customer_id"


def test_changed_amount_transfers_lookup_key_and_archives_old_price(
    stripe_api: str, stripe_client: stripe.StripeClient, tmp_path: Path
) -> None:
    run_catalog_sync(API_KEY, stripe_api)
    old = stripe_client.v1.prices.list({"lookup_keys": ["incytes_sms_usd"]}).data[0]
    changed = tmp_path / "catalog.toml"
    changed.write_text(
        CATALOG_FILE.read_text().replace('amounts = { usd = "5", eur = "5" }', 'amounts = { usd = "7.5", eur = "5" }')
    )

    changes = run_catalog_sync(API_KEY, stripe_api, changed)

    assert len(changes) == 2, changes
    new = stripe_client.v1.prices.list({"lookup_keys": ["incytes_sms_usd"]}).data[0]
    assert new.id != old.id
    assert new.unit_amount_decimal == pytest.approx(7.5)
    archived = stripe_client.v1.prices.retrieve(old.id)
    assert (archived.active, archived.lookup_key) == (False, None)
    assert run_catalog_sync(API_KEY, stripe_api, changed) == []


def test_cli_reports_changes_and_refuses_live_keys(
    stripe_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_api)
    assert catalog_main([]) == 0
    assert catalog_main([]) == 0
    assert capsys.readouterr().out.strip().endswith("0 change(s), already up to date")

    monkeypatch.setenv("STRIPE_API_KEY", "sk_live_123")
    assert catalog_main([]) == 2


def test_cli_reports_unreachable_stripe(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # discard port: nothing listens
    assert catalog_main([]) == 1
    assert "failed" in capsys.readouterr().err


def test_cli_without_key_finds_the_emulator_on_the_local_stacks_port(
    stripe_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make catalog` next to `STRIPE_EMULATOR_PORT=… make local` reaches that stack's emulator, not :12111."""
    host, port = stripe_api.removeprefix("http://").rsplit(":", 1)
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_HOST", host)
    monkeypatch.setenv("STRIPE_EMULATOR_PORT", port)

    assert catalog_main([]) == 0
    assert catalog_main([]) == 0

    assert capsys.readouterr().out.strip().endswith(f"Catalog at {stripe_api}: 0 change(s), already up to date")
