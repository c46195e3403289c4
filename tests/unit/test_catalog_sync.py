"""CatalogSynchronizer converges Stripe onto catalog.toml, with an in-memory Stripe."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest

from incytes_billing.domain.catalog import CatalogSynchronizer
from incytes_billing.models.catalog import (
    CatalogConfig,
    PriceSpec,
    load_catalog,
)
from tests.fakes import MemoryCatalog

ids = itertools.count(1)


@pytest.fixture
def config() -> CatalogConfig:
    return load_catalog()


def test_shipped_catalog_file_is_valid(config: CatalogConfig) -> None:
    keys = {spec.lookup_key for spec in config.price_specs()}
    assert {"incytes_seat_usd", "incytes_seat_eur", "incytes_case_usd", "incytes_sms_eur"} <= keys
    seat_usd = next(spec for spec in config.price_specs() if spec.lookup_key == "incytes_seat_usd")
    assert (seat_usd.unit_amount_decimal, seat_usd.usage_type) == (Decimal(3500), "licensed")
    case_usd = next(spec for spec in config.price_specs() if spec.lookup_key == "incytes_case_usd")
    assert (case_usd.unit_amount_decimal, case_usd.meter_event_name) == (Decimal(500), "incytes_case")


def test_first_run_creates_everything_second_run_nothing(config: CatalogConfig) -> None:
    stripe = MemoryCatalog()
    changes = CatalogSynchronizer(stripe, config).sync()
    assert len(changes) == 2 + 3 + 6  # meters, products, prices
    writes = stripe.writes
    assert CatalogSynchronizer(stripe, config).sync() == []
    assert stripe.writes == writes


def test_changed_amount_moves_key_and_archives_old_price(config: CatalogConfig) -> None:
    stripe = MemoryCatalog()
    CatalogSynchronizer(stripe, config).sync()
    old = stripe.find_price("incytes_sms_usd")
    assert old is not None
    products = dict(config.products)
    products["sms"] = products["sms"].model_copy(update={"amounts": {"usd": Decimal("7.5"), "eur": Decimal(5)}})
    changed = config.model_copy(update={"products": products})

    changes = CatalogSynchronizer(stripe, changed).sync()

    new = stripe.find_price("incytes_sms_usd")
    assert new is not None
    assert new.price_id != old.price_id
    assert new.unit_amount_decimal == Decimal("7.5")
    assert old.price_id in stripe.archived
    assert len(changes) == 2  # one price created, one archived
    assert CatalogSynchronizer(stripe, changed).sync() == []


def test_crash_between_create_and_archive_is_mended(config: CatalogConfig) -> None:
    stripe = MemoryCatalog()
    CatalogSynchronizer(stripe, config).sync()
    old = stripe.find_price("incytes_case_eur")
    assert old is not None
    # A run created the replacement and died before archiving: the old price lost its key but is active.
    stripe.create_price(
        replace_amount(config, "incytes_case_eur", Decimal(600)), meter_id=old.meter_id, replacing=old.price_id
    )
    assert old.price_id not in stripe.archived
    products = dict(config.products)
    products["case"] = products["case"].model_copy(update={"amounts": {"usd": Decimal(500), "eur": Decimal(600)}})

    CatalogSynchronizer(stripe, config.model_copy(update={"products": products})).sync()

    assert old.price_id in stripe.archived


def test_inactive_meter_is_reactivated(config: CatalogConfig) -> None:
    stripe = MemoryCatalog()
    CatalogSynchronizer(stripe, config).sync()
    stripe.meters["incytes_sms"] = replace(stripe.meters["incytes_sms"], active=False)
    assert CatalogSynchronizer(stripe, config).sync() == [
        f"reactivated meter incytes_sms ({stripe.meters['incytes_sms'].meter_id})"
    ]


def test_metered_product_must_name_a_meter() -> None:
    with pytest.raises(ValueError, match="meter"):
        CatalogConfig.model_validate(
            {
                "tax_behavior": "exclusive",
                "lookup_key_prefix": "x",
                "meters": {},
                "products": {
                    "case": {
                        "product_id": "x_case",
                        "name": "Case",
                        "unit_label": "case",
                        "usage_type": "metered",
                        "amounts": {"usd": "500"},
                    }
                },
            }
        )


def replace_amount(config: CatalogConfig, lookup_key: str, amount: Decimal) -> PriceSpec:
    spec = next(spec for spec in config.price_specs() if spec.lookup_key == lookup_key)
    return replace(spec, unit_amount_decimal=amount)
