"""The resource kinds the emulator models (id prefixes as Stripe issues them in test mode)."""

from __future__ import annotations

from ..store import Kind

CUSTOMER = Kind(object="customer", label="customer", prefix="cus_", id_length=14)
PRODUCT = Kind(
    object="product",
    label="product",
    prefix="prod_",
    id_length=14,
    expandable={"default_price": "price"},
)
# A probe against Stripe reports ``param: "price"`` for an unknown price id in the URL.
PRICE = Kind(
    object="price",
    label="price",
    prefix="price_",
    id_length=24,
    missing_param="price",
    expandable={"product": "product"},
)
INVOICE_ITEM = Kind(
    object="invoiceitem",
    label="invoiceitem",
    prefix="ii_",
    id_length=24,
    expandable={
        "customer": "customer",
        "pricing.price_details.price": "price",
    },
)
BILLING_METER = Kind(object="billing.meter", label="billing meter", prefix="mtr_test_61", id_length=29)

ALL_KINDS = (CUSTOMER, PRODUCT, PRICE, INVOICE_ITEM, BILLING_METER)
KINDS = {kind.object: kind for kind in ALL_KINDS}
