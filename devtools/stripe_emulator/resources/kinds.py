"""The resource kinds the emulator models (id prefixes as Stripe issues them in test mode)."""

from __future__ import annotations

from ..store import Kind

CUSTOMER = Kind(
    object="customer",
    label="customer",
    prefix="cus_",
    id_length=14,
    expandable={"invoice_settings.default_payment_method": "payment_method"},
)
# Stripe's own label in "No such PaymentMethod: 'pm_...'".
PAYMENT_METHOD = Kind(
    object="payment_method",
    label="PaymentMethod",
    prefix="pm_",
    id_length=24,
    missing_param="payment_method",
    expandable={"customer": "customer"},
)
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
# Meter events have no ``id`` (their ``identifier`` is the caller's): these kinds only name what the meter
# event endpoints answer; the events themselves live in the meter ledger (``meter_events.MeterLedger``).
BILLING_METER_EVENT = Kind(object="billing.meter_event", label="billing meter event", prefix="", id_length=0)
BILLING_METER_EVENT_SUMMARY = Kind(
    object="billing.meter_event_summary", label="billing meter event summary", prefix="mtrusg_test_", id_length=0
)
V2_METER_EVENT = Kind(object="v2.billing.meter_event", label="meter event", prefix="", id_length=0)
METER_EVENT_SESSION = Kind(
    object="v2.billing.meter_event_session", label="meter event session", prefix="bmes_test_", id_length=24
)
METER_EVENT_STREAM = Kind(object="v2.billing.meter_event_stream", label="meter event stream", prefix="", id_length=0)
# Thin events (API v2): ids like Stripe's ``evt_test_65R2GpwDsnmpzihMjdT16R2GDhI4SQdXJGRbvn7JA8mPEm``.
THIN_EVENT = Kind(object="v2.core.event", label="event", prefix="evt_test_65", id_length=44)
SUBSCRIPTION = Kind(
    object="subscription",
    label="subscription",
    prefix="sub_",
    id_length=24,
    expandable={
        "customer": "customer",
        "default_payment_method": "payment_method",
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
        "default_payment_method": "payment_method",
        "parent.subscription_details.subscription": "subscription",
    },
)
# Lines live inside their invoice (``lines.data``), not in the store; this kind names what
# ``GET /v1/invoices/{invoice}/lines`` answers.
INVOICE_LINE_ITEM = Kind(object="line_item", label="invoice line item", prefix="il_", id_length=24)
EVENT = Kind(object="event", label="event", prefix="evt_", id_length=24)
WEBHOOK_ENDPOINT = Kind(object="webhook_endpoint", label="webhook endpoint", prefix="we_", id_length=24)
# Ids like Stripe's ``ed_test_61RM8ltWcTW4mbsxf16RJyfa2xSQLHJJh1sxm7H0KVT6`` (API v2).
EVENT_DESTINATION = Kind(
    object="v2.core.event_destination", label="event destination", prefix="ed_test_61", id_length=42
)

ALL_KINDS = (
    CUSTOMER,
    PAYMENT_METHOD,
    PRODUCT,
    PRICE,
    INVOICE_ITEM,
    BILLING_METER,
    BILLING_METER_EVENT,
    BILLING_METER_EVENT_SUMMARY,
    V2_METER_EVENT,
    METER_EVENT_SESSION,
    METER_EVENT_STREAM,
    THIN_EVENT,
    SUBSCRIPTION,
    SUBSCRIPTION_ITEM,
    SUBSCRIPTION_SCHEDULE,
    INVOICE,
    INVOICE_LINE_ITEM,
    EVENT,
    WEBHOOK_ENDPOINT,
    EVENT_DESTINATION,
)
KINDS = {kind.object: kind for kind in ALL_KINDS}
