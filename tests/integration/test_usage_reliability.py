"""Issue 5's reliability proof: 10,000 records across 50 funders, with injected 429s and 500s, a reporter crash
after Stripe accepted a batch but before the records were marked, and duplicate submissions. In the end the
emulator's meter totals equal the ledger's exactly: nothing lost, nothing billed twice.

Real adapters throughout: DynamoDB (moto, tables from template.yaml) and the Stripe SDK against the emulator.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import stripe

from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.catalog.sync import run_catalog_sync
from incytes_billing.config import StripeSettings
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.domain.usage import UsageLedger
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.usage import UsageRecord, UsageStatus
from local_stack.template import StackResources
from stripe_emulator import StripeEmulator
from tests.support import EMULATOR_API_KEY, usage_ready_funders

FUNDERS = 50
RECORDS = 10_000


class Crash(Exception):
    pass


class CrashOnceAfterStripe(DynamoDBUsageRepository):
    """Dies once, on the first `reported` mark: Stripe has accepted the batch, the ledger does not know."""

    crashed = False

    def settle(
        self, record: UsageRecord, status: UsageStatus, *, reason: str | None = None, batch_id: str | None = None
    ) -> None:
        if status == "reported" and not self.crashed:
            self.crashed = True
            raise Crash
        super().settle(record, status, reason=reason, batch_id=batch_id)


@pytest.fixture
def world(aws: StackResources, stripe_api: str, stripe_client: stripe.StripeClient) -> dict[str, Any]:
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    dynamodb = boto3.resource("dynamodb")
    funders_table = dynamodb.Table(aws["FundersTable"])
    started = datetime.now(UTC) - timedelta(days=1)
    customers = usage_ready_funders(funders_table, stripe_client, FUNDERS, started=started)
    funders = DynamoDBFunderRepository(funders_table)
    return {"funders": funders, "customers": customers, "usage_table": dynamodb.Table(aws["UsageTable"]), "aws": aws}


def test_ten_thousand_records_billed_exactly_once(
    world: dict[str, Any], stripe_api: str, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    rng = random.Random(5)
    now = datetime.now(UTC)
    records = [
        {
            "funder_id": f"f{rng.randrange(FUNDERS)}",
            "usage_id": f"u{i}",
            "kind": rng.choice(["case", "sms"]),
            "quantity": rng.randint(1, 5),
            "occurred_at": (now - timedelta(minutes=rng.randint(0, 600))).isoformat(),
        }
        for i in range(RECORDS)
    ]
    ledger = UsageLedger(DynamoDBUsageRepository(world["usage_table"]), world["funders"])
    duplicates = rng.sample(records, 500)  # inCytes retries some submissions
    for start in range(0, len(records), 100):
        results = ledger.record_batch(records[start : start + 100])
        assert {r["status"] for r in results} == {"accepted"}
    assert {r["status"] for r in ledger.record_batch(duplicates[:100])} == {"duplicate"}

    settings = StripeSettings(stripe_api, 5.0, 0, 1, 0.0)  # no retries inside: every fault reaches the reporter
    gateway = StripeGateway(build_stripe_client(EMULATOR_API_KEY, settings), settings)
    usage = CrashOnceAfterStripe(world["usage_table"])
    reporter = UsageReporter(
        usage, DynamoDBMeterBatchStore(boto3.resource("dynamodb").Table(world["aws"]["UsageBatchesTable"])),
        world["funders"], gateway, load_catalog(),
    )  # fmt: skip
    stripe_emulator.inject_fault(path_prefix="/v1/billing/meter_events", status=429, count=7)
    stripe_emulator.inject_fault(path_prefix="/v1/billing/meter_events", status=500, count=5)

    funder_ids = sorted(world["customers"])
    crashes = unavailable = 0
    for _ in range(30):  # the stream's retries, then the scheduled re-drive
        pending = usage.funders_with_pending()
        if not pending:
            break
        for funder_id in sorted(pending):
            try:
                summary = reporter.report_funders([funder_id])
            except Crash:
                crashes += 1
                continue
            unavailable += len(summary.deferred_funders)
    assert usage.funders_with_pending() == set()
    assert (crashes, unavailable) == (1, 12)

    expected: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record["funder_id"], record["kind"])
        expected[key] = expected.get(key, 0) + record["quantity"]
    for funder_id in funder_ids:
        for kind in ("case", "sms"):
            billed = meter_total(stripe_client, f"incytes_{kind}", world["customers"][funder_id], now)
            assert billed == expected.get((funder_id, kind), 0), (funder_id, kind)
    meter_posts = sum(1 for e in stripe_emulator.requests_log() if e["path"] == "/v1/billing/meter_events")
    assert meter_posts <= 2 * FUNDERS + 1 + 12  # one per funder and kind, the crashed batch's re-send, the faults


def meter_total(client: stripe.StripeClient, event_name: str, customer: str, now: datetime) -> int:
    meter = next(m for m in client.v1.billing.meters.list({"limit": 100}).data if m.event_name == event_name)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    summaries = client.v1.billing.meters.event_summaries.list(
        meter.id,
        {
            "customer": customer,
            "start_time": int((end - timedelta(days=2)).timestamp()),
            "end_time": int(end.timestamp()),
        },
    )
    return int(sum(summary.aggregated_value for summary in summaries.data))
