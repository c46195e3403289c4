"""Usage at a billing period boundary is decided by the period's invoice (issue 9 §5), through the real SDK and
the emulator: UsageTable stream -> UsageReporterFunction -> the renewal invoice's usage lines.

Stripe counts usage for the previous period while that period's invoice is a draft: it finalizes the renewal
one hour after `invoice.created` was delivered (up to 72 h; configurable per account; the draft's
`automatically_finalizes_at`) with the usage it has by then
(https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period,
https://docs.stripe.com/invoicing/integration/workflow-transitions#finalize-draft-invoices,
https://docs.stripe.com/api/invoices/object#invoice_object-automatically_finalizes_at). The test reads the
draft's state instead of assuming when it finalizes.

The emulator's clock renews the subscription a month ahead of the handlers' clock, so the late usage is recorded
through the ledger on the emulator's clock (UsageFunction checks `occurred_at` against its own).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import stripe

from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
from incytes_billing.domain.usage import UsageLedger
from incytes_billing.models.usage import UsageInput
from local_stack.stream_source import DynamoDBStreamSource
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.functions.pipeline import Pipeline
from tests.functions.usage_support import meter_requests, statuses

LONGEST_GRACE = 72 * 3600  # Stripe finalizes a renewal 72 h after its creation at the latest


def record_on_stripes_clock(
    aws: StackResources, emulator: StripeEmulator, usage_id: str, kind: str, quantity: int, occurred: int
) -> None:
    """Recorded through the ledger as UsageFunction would, at the emulator's time."""
    dynamodb = boto3.resource("dynamodb")
    ledger = UsageLedger(
        DynamoDBUsageRepository(dynamodb.Table(aws["UsageTable"])),
        DynamoDBFunderRepository(dynamodb.Table(aws["FundersTable"])),
        clock=lambda: datetime.fromtimestamp(emulator.now(), UTC),
    )
    when = datetime.fromtimestamp(occurred, UTC)
    usage = UsageInput.model_validate({"usage_id": usage_id, "kind": kind, "quantity": quantity, "occurred_at": when})
    assert ledger.record("f1", usage) == "accepted"


def renewal_of(client: stripe.StripeClient, subscription_id: str) -> stripe.Invoice:
    invoices = client.v1.invoices.list({"subscription": subscription_id, "limit": 100}).data
    (renewal,) = [invoice for invoice in invoices if invoice.billing_reason == "subscription_cycle"]
    return renewal


def usage_quantity(invoice: stripe.Invoice, item_id: str) -> int:
    (line,) = [
        line
        for line in invoice.lines.data
        if line.parent is not None
        and line.parent.subscription_item_details is not None
        and line.parent.subscription_item_details.subscription_item == item_id
    ]
    return int(line.quantity or 0)


def test_late_usage_lands_on_the_renewal_while_it_is_a_draft_and_is_unbillable_after(
    subscribed: dict[str, Any],
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    pipeline: Pipeline,
    aws: StackResources,
) -> None:
    subscription_id = subscribed["subscription_id"]
    items = {item["kind"]: item["item_id"] for item in subscribed["items"]}
    subscription = stripe_client.v1.subscriptions.retrieve(subscription_id)
    period_end = int(subscription["items"].data[0].current_period_end)

    # The period ends: Stripe renews the subscription and makes the renewal invoice, a draft; we hear of it.
    stripe_emulator.set_clock(period_end + 10 * 60)
    pipeline.deliver(pipeline.stripe_event("customer.subscription.updated", subscription_id))
    pipeline.process()
    renewal = renewal_of(stripe_client, subscription_id)
    assert renewal.period_end == period_end
    assert renewal.status == "draft"
    assert renewal.automatically_finalizes_at is None or renewal.automatically_finalizes_at > stripe_emulator.now()

    # Usage from two hours before the period ended, reported while the renewal is a draft: billed on it (the
    # clock rule made it unbillable: over an hour before the new period's start).
    record_on_stripes_clock(aws, stripe_emulator, "late-case", "case", 2, period_end - 2 * 3600)
    stream.drain()
    assert statuses(aws) == {"late-case": "reported"}

    finalizes = renewal.automatically_finalizes_at or renewal.created + LONGEST_GRACE
    stripe_emulator.set_clock(finalizes + 1)
    renewal = renewal_of(stripe_client, subscription_id)
    assert renewal.status != "draft"
    assert usage_quantity(renewal, items["case"]) == 2

    # Usage from 20 minutes before the period ended, reported after the renewal was finalized: Stripe would
    # take the meter event and never invoice it (the clock rule marked it reported). Unbillable; Finance is told.
    sent = meter_requests(stripe_emulator)
    record_on_stripes_clock(aws, stripe_emulator, "late-sms", "sms", 3, period_end - 20 * 60)
    stream.drain()
    assert statuses(aws) == {"late-case": "reported", "late-sms": "unbillable"}
    assert meter_requests(stripe_emulator) == sent
    message = unbillable_notice(pipeline)
    assert (message["usage_ids"], message["quantity"]) == (["late-sms"], 3)
    assert renewal.id in message["reason"]
    assert usage_quantity(renewal_of(stripe_client, subscription_id), items["sms"]) == 0


def test_late_usage_of_a_canceled_subscriptions_last_period_is_decided_by_its_final_invoice(
    subscribed: dict[str, Any],
    stream: DynamoDBStreamSource,
    stripe_emulator: StripeEmulator,
    stripe_client: stripe.StripeClient,
    pipeline: Pipeline,
    aws: StackResources,
) -> None:
    """Canceled now: the final invoice bills the usage Stripe has when it is finalized. Usage of that period
    reported after that is unbillable and told (the clock rule sent it: it occurred before the cancellation)."""
    subscription_id = subscribed["subscription_id"]
    stripe_emulator.advance_clock(2 * 3600)  # two hours into the period
    canceled = stripe_client.v1.subscriptions.cancel(subscription_id, {"invoice_now": True, "prorate": False})
    pipeline.deliver(pipeline.stripe_event("customer.subscription.deleted", subscription_id))
    pipeline.process()
    ended = int(canceled.canceled_at or 0)
    invoices = stripe_client.v1.invoices.list({"subscription": subscription_id, "created": {"gte": ended}}).data
    (final,) = [i for i in invoices if i.period_end == ended and i.billing_reason != "subscription_create"]
    if final.status == "draft":  # finalized in the request, or later: the state decides, not the timing
        final = stripe_client.v1.invoices.finalize_invoice(final.id)

    record_on_stripes_clock(aws, stripe_emulator, "last", "case", 4, ended - 3600)
    sent = meter_requests(stripe_emulator)
    stream.drain()

    assert statuses(aws) == {"last": "unbillable"}
    assert meter_requests(stripe_emulator) == sent
    message = unbillable_notice(pipeline)
    assert (message["usage_ids"], message["quantity"]) == (["last"], 4)
    assert final.id in message["reason"]


def unbillable_notice(pipeline: Pipeline) -> dict[str, Any]:
    """The one usage.unbillable message Finance received."""
    notices = [
        json.loads(notice["Message"])
        for notice in pipeline.finance_messages()
        if notice["MessageAttributes"]["event_type"]["Value"] == "usage.unbillable"
    ]
    (notice,) = notices
    return notice
