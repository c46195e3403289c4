"""The billing catalog: its configuration (catalog.toml) and what Stripe holds of it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from incytes_billing.models.common import Currency

CATALOG_FILE = Path(__file__).resolve().parent.parent / "catalog.toml"

ProductKind = Literal["seat", "case", "sms"]
TaxBehavior = Literal["exclusive", "inclusive"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,100}$")]
MinorUnits = Annotated[Decimal, Field(ge=0, max_digits=22, decimal_places=12)]


class MeterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_name: Identifier
    display_name: str


class ProductConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: Identifier
    name: str
    unit_label: str
    usage_type: Literal["licensed", "metered"]
    meter: str | None = None
    amounts: dict[Currency, MinorUnits]

    @model_validator(mode="after")
    def _metered_needs_meter(self) -> ProductConfig:
        if (self.usage_type == "metered") != (self.meter is not None):
            raise ValueError("a metered product names its meter, a licensed one does not")
        return self


class CatalogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tax_behavior: TaxBehavior
    lookup_key_prefix: Identifier
    meters: dict[str, MeterConfig]
    products: dict[ProductKind, ProductConfig]

    @model_validator(mode="after")
    def _meters_exist(self) -> CatalogConfig:
        for kind, product in self.products.items():
            if product.meter is not None and product.meter not in self.meters:
                raise ValueError(f"product {kind} names unknown meter {product.meter}")
        return self

    def kind_of_product(self) -> dict[str, ProductKind]:
        """Which kind (seat, case, sms) each catalog product bills: items are classed by product, whatever price."""
        return {product.product_id: kind for kind, product in self.products.items()}

    def meter_event_names(self) -> dict[str, str]:
        """The meter event name of each metered kind (case, sms)."""
        return {
            kind: self.meters[product.meter].event_name
            for kind, product in self.products.items()
            if product.meter is not None
        }

    def lookup_key(self, kind: ProductKind, currency: Currency) -> str:
        return f"{self.lookup_key_prefix}_{kind}_{currency}"

    def price_specs(self) -> list[PriceSpec]:
        return [
            PriceSpec(
                lookup_key=self.lookup_key(kind, currency),
                product_id=product.product_id,
                currency=currency,
                unit_amount_decimal=amount,
                usage_type=product.usage_type,
                meter_event_name=self.meters[product.meter].event_name if product.meter else None,
                tax_behavior=self.tax_behavior,
            )
            for kind, product in self.products.items()
            for currency, amount in sorted(product.amounts.items())
        ]


def load_catalog(path: Path = CATALOG_FILE) -> CatalogConfig:
    with path.open("rb") as file:
        return CatalogConfig.model_validate(tomllib.load(file))


@dataclass(frozen=True, slots=True)
class ProductSpec:
    product_id: str
    name: str
    unit_label: str


@dataclass(frozen=True, slots=True)
class MeterSpec:
    event_name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class MeterRecord:
    meter_id: str
    event_name: str
    active: bool


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """A monthly recurring price as the catalog wants it."""

    lookup_key: str
    product_id: str
    currency: str
    unit_amount_decimal: Decimal
    usage_type: str
    meter_event_name: str | None
    tax_behavior: str


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """A price as Stripe holds it (only what the catalog compares)."""

    price_id: str
    lookup_key: str | None
    product_id: str
    currency: str
    unit_amount_decimal: Decimal
    usage_type: str
    meter_id: str | None
    tax_behavior: str
    interval: str
    # The lookup key this catalog created the price for (kept in metadata), even after the key moved on.
    catalog_key: str | None
