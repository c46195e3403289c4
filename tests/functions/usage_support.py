"""Usage helpers of the handler suites: record through UsageFunction, read Stripe's meters and the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import stripe

from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.support import Invoke, load_event

# Just after the subscription started (Stripe's `created` has whole seconds) and well inside Stripe's window.
OCCURRED_DELAY = timedelta(seconds=2)


def record(invoke: Invoke, usage_id: str, kind: str, quantity: int, when: datetime, funder_id: str = "f1") -> None:
    event = load_event("usage/post_usage.json")
    event["path"] = f"/funders/{funder_id}/usage"
    event["pathParameters"] = {"funder_id": funder_id}
    event["body"] = json.dumps(
        {"usage_id": usage_id, "kind": kind, "quantity": quantity, "occurred_at": when.isoformat()}
    )
    assert invoke("UsageFunction", event)["statusCode"] in (200, 202)


def meter_requests(emulator: StripeEmulator) -> int:
    return sum(1 for entry in emulator.requests_log() if entry["path"] == "/v1/billing/meter_events")


def meter_total(client: stripe.StripeClient, event_name: str, customer: str) -> int:
    meter = next(m for m in client.v1.billing.meters.list({"limit": 100}).data if m.event_name == event_name)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    summaries = client.v1.billing.meters.event_summaries.list(
        meter.id,
        {
            "customer": customer,
            "start_time": int((now - timedelta(days=2)).timestamp()),
            "end_time": int((now + timedelta(minutes=2)).timestamp()),
        },
    )
    return int(sum(summary.aggregated_value for summary in summaries.data))


def statuses(aws: StackResources) -> dict[str, str]:
    items = boto3.resource("dynamodb").Table(aws["UsageTable"]).scan()["Items"]
    return {str(item["usage_id"]): str(item["status"]) for item in items}
