"""Make Stripe's catalog (products, meters, prices by lookup key) match catalog.toml.

Converges from any state, so running it twice changes nothing and a crash half-way is mended by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from incytes_billing.models.catalog import (
    CatalogConfig,
    MeterSpec,
    PriceRecord,
    PriceSpec,
    ProductSpec,
)
from incytes_billing.ports import CatalogGateway

CATALOG_INTERVAL = "month"


@dataclass(eq=False)
class CatalogSynchronizer:
    gateway: CatalogGateway
    config: CatalogConfig

    def sync(self) -> list[str]:
        """Apply the config; answer one human line per change made (none when Stripe already matched)."""
        changes: list[str] = []
        meter_ids = self._sync_meters(changes)
        self._sync_products(changes)
        for price in self.config.price_specs():
            meter_id = meter_ids[price.meter_event_name] if price.meter_event_name else None
            self._sync_price(price, meter_id, changes)
        return changes

    def _sync_meters(self, changes: list[str]) -> dict[str, str]:
        meter_ids: dict[str, str] = {}
        for meter in self.config.meters.values():
            record = self.gateway.find_meter(meter.event_name)
            if record is None:
                record = self.gateway.create_meter(MeterSpec(meter.event_name, meter.display_name))
                changes.append(f"created meter {meter.event_name} ({record.meter_id})")
            elif not record.active:
                self.gateway.reactivate_meter(record.meter_id)
                changes.append(f"reactivated meter {meter.event_name} ({record.meter_id})")
            meter_ids[meter.event_name] = record.meter_id
        return meter_ids

    def _sync_products(self, changes: list[str]) -> None:
        for product in self.config.products.values():
            wanted = ProductSpec(product.product_id, product.name, product.unit_label)
            current = self.gateway.get_product(product.product_id)
            if current is None:
                self.gateway.create_product(wanted)
                changes.append(f"created product {product.product_id}")
            elif current != wanted:
                self.gateway.update_product(wanted)
                changes.append(f"updated product {product.product_id}")

    def _sync_price(self, wanted: PriceSpec, meter_id: str | None, changes: list[str]) -> None:
        current = self.gateway.find_price(wanted.lookup_key)
        if current is not None and _matches(current, wanted, meter_id):
            kept = current
        else:
            kept = self.gateway.create_price(wanted, meter_id=meter_id, replacing=current.price_id if current else None)
            replaced = f", replacing {current.price_id}" if current else ""
            changes.append(
                f"created price {wanted.lookup_key} ({kept.price_id}: {wanted.unit_amount_decimal} "
                f"{wanted.currency} minor units{replaced})"
            )
        # Archive every earlier price this catalog made for the key, also ones a crashed run left behind.
        for stale in self.gateway.list_active_prices(wanted.product_id):
            if stale.catalog_key == wanted.lookup_key and stale.price_id != kept.price_id:
                self.gateway.archive_price(stale.price_id)
                changes.append(f"archived price {stale.price_id} (was {wanted.lookup_key})")


def _matches(price: PriceRecord, wanted: PriceSpec, meter_id: str | None) -> bool:
    return (
        price.product_id == wanted.product_id
        and price.currency == wanted.currency
        and price.unit_amount_decimal == wanted.unit_amount_decimal
        and price.usage_type == wanted.usage_type
        and price.meter_id == meter_id
        and price.tax_behavior == wanted.tax_behavior
        and price.interval == CATALOG_INTERVAL
    )
