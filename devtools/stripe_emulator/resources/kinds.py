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
        "invoice": "invoice",
        "parent.subscription_details.subscription": "subscription",
        "pricing.price_details.price": "price",
    },
)
BILLING_METER = Kind(object="billing.meter", label="billing meter", prefix="mtr_test_61", id_length=29)
SUBSCRIPTION = Kind(
    object="subscription",
    label="subscription",
    prefix="sub_",
    id_length=24,
    expandable={
        "customer": "customer",
        "latest_invoice": "invoice",
        "schedule": "subscription_schedule",
    },
)
# ``price`` is embedded whole in a subscription item: expanding it only reaches further (``price.product``).
SUBSCRIPTION_ITEM = Kind(
    object="subscription_item",
    label="subscription_item",
    prefix="si_",
    id_length=14,
    expandable={"price": "price"},
)
SUBSCRIPTION_SCHEDULE = Kind(
    object="subscription_schedule",
    label="subscription_schedule",
    prefix="sub_sched_",
    id_length=24,
    missing_param="schedule",
    expandable={"customer": "customer", "subscription": "subscription"},
)
INVOICE = Kind(
    object="invoice",
    label="invoice",
    prefix="in_",
    id_length=24,
    missing_param="invoice",
    expandable={
        "customer": "customer",
        "parent.subscription_details.subscription": "subscription",
    },
)
EVENT = Kind(object="event", label="event", prefix="evt_", id_length=24)
WEBHOOK_ENDPOINT = Kind(object="webhook_endpoint", label="webhook endpoint", prefix="we_", id_length=24)

ALL_KINDS = (
    CUSTOMER,
    PRODUCT,
    PRICE,
    INVOICE_ITEM,
    BILLING_METER,
    SUBSCRIPTION,
    SUBSCRIPTION_ITEM,
    SUBSCRIPTION_SCHEDULE,
    INVOICE,
    EVENT,
    WEBHOOK_ENDPOINT,
)
KINDS = {kind.object: kind for kind in ALL_KINDS}
