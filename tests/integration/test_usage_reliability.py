"""Issue 5's reliability proof: 10,000 records across 50 funders, with injected 429s and 500s, a reporter crash
after Stripe accepted a batch but before the records were marked, and duplicate submissions. In the end the
emulator's meter totals equal the ledger's exactly: nothing lost, nothing billed twice. Then the same in stream
mode, where refusals come later (error reports) and the reconciler's summary checks settle the rest.

Real adapters throughout: DynamoDB (moto, tables from template.yaml) and the Stripe SDK against the emulator.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack

import boto3
import pytest
import stripe

from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeSettings
from incytes_billing.domain.batch_checks import BatchChecker, BatchCheckReport
from incytes_billing.domain.meter_errors import MeterErrorSettler
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.domain.usage import UsageLedger
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.usage import Settlement, UsageRecord, UsageStatus
from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.support import EMULATOR_API_KEY, meter_error_reports, usage_ready_funders

FUNDERS = 50
RECORDS = int(os.environ.get("RELIABILITY_RECORDS", "10000"))


class Crash(Exception):
    pass


class CrashOnceAfterStripe(DynamoDBUsageRepository):
    """Dies once, on the first `reported` mark: Stripe has accepted the batch, the ledger does not know."""

    crashed = False

    def settle(self, record: UsageRecord, status: UsageStatus, **settlement: Unpack[Settlement]) -> None:
        if status == "reported" and not self.crashed:
            self.crashed = True
            raise Crash
        super().settle(record, status, **settlement)


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
    records = submit(world, rng, RECORDS, now)

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

    expected = expected_totals(records)
    for funder_id in funder_ids:
        for kind in ("case", "sms"):
            billed = meter_total(stripe_client, f"incytes_{kind}", world["customers"][funder_id], now)
            assert billed == expected.get((funder_id, kind), 0), (funder_id, kind)
    meter_posts = sum(1 for e in stripe_emulator.requests_log() if e["path"] == "/v1/billing/meter_events")
    assert meter_posts <= 2 * FUNDERS + 1 + 12  # one per funder and kind, the crashed batch's re-send, the faults


def submit(world: dict[str, Any], rng: random.Random, count: int, now: datetime) -> list[dict[str, Any]]:
    """`count` records across the funders over the last 10 hours, recorded through the ledger; 100 of them
    submitted twice (inCytes retries some submissions)."""
    records = [
        {
            "funder_id": f"f{rng.randrange(FUNDERS)}",
            "usage_id": f"u{i}",
            "kind": rng.choice(["case", "sms"]),
            "quantity": rng.randint(1, 5),
            "occurred_at": (now - timedelta(minutes=rng.randint(0, 600))).isoformat(),
        }
        for i in range(count)
    ]
    ledger = UsageLedger(DynamoDBUsageRepository(world["usage_table"]), world["funders"])
    for start in range(0, len(records), 100):
        results = ledger.record_batch(records[start : start + 100])
        assert {r["status"] for r in results} == {"accepted"}
    assert {r["status"] for r in ledger.record_batch(rng.sample(records, 100))} == {"duplicate"}
    return records


def expected_totals(records: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    expected: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record["funder_id"], record["kind"])
        expected[key] = expected.get(key, 0) + record["quantity"]
    return expected


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


STREAM_RECORDS = 2_000


class CrashOnceAfterStream(DynamoDBMeterBatchStore):
    """Dies once, on the first `streamed` mark: the stream has taken the events, the batch does not know."""

    crashed = False

    def mark_streamed(self, batch_id: str, *, at: int) -> None:
        if not self.crashed:
            self.crashed = True
            raise Crash
        super().mark_streamed(batch_id, at=at)


def test_stream_mode_bills_exactly_once_and_fails_only_what_stripe_refused(
    world: dict[str, Any], stripe_api: str, stripe_emulator: StripeEmulator, stripe_client: stripe.StripeClient
) -> None:
    """The same proof in stream mode, where Stripe validates asynchronously: 2,000 records across 50 funders,
    429s and 500s on the stream, a crash after the stream took a request but before its batches were marked,
    duplicates, and three funders whose Stripe customers were deleted behind our back. Error reports name some
    refused batches; the reconciler's summary checks settle the rest. In the end every record is settled: the
    emulator's totals equal the ledger's `reported` totals, and exactly the deleted customers' usage failed."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    records = submit(world, rng, STREAM_RECORDS, now)
    deleted = {"f3", "f17", "f41"}
    for funder_id in deleted:
        stripe_client.v1.customers.delete(world["customers"][funder_id])

    settings = StripeSettings(stripe_api, 5.0, 0, 1, 0.0)  # no retries inside: every fault reaches the reporter
    gateway = StripeGateway(build_stripe_client(EMULATOR_API_KEY, settings), settings)
    usage = DynamoDBUsageRepository(world["usage_table"])
    batches = CrashOnceAfterStream(boto3.resource("dynamodb").Table(world["aws"]["UsageBatchesTable"]))
    reporter = UsageReporter(usage, batches, world["funders"], gateway, load_catalog(), mode="stream")
    stripe_emulator.inject_fault(path_prefix="/v2/billing/meter_event_stream", status=429, count=3)
    stripe_emulator.inject_fault(path_prefix="/v2/billing/meter_event_stream", status=500, count=3)

    funder_ids = sorted(world["customers"])
    crashes = 0
    for _ in range(30):  # the stream's retries, then the scheduled re-drive
        try:
            summary = reporter.report_funders(funder_ids)
        except Crash:
            crashes += 1
            continue
        if not summary.streamed_batches and not summary.deferred_funders:
            break
    assert crashes == 1
    assert summary.awaiting_validation == STREAM_RECORDS  # everything streamed, nothing reported yet

    settler = MeterErrorSettler(usage, batches, gateway)
    reports = meter_error_reports(stripe_client, stripe_emulator)
    assert reports
    named = sum(settler.apply_event(report["id"]).failed_records for report in reports)
    checker = BatchChecker(
        usage=usage, batches=batches, funders=world["funders"], meters=gateway, summaries=gateway,
        clock=lambda: now + timedelta(minutes=61),
    )  # fmt: skip
    check = BatchCheckReport()
    for funder_id in funder_ids:
        checker.check_funder(funder_id, check)
    assert check.unattributed == []
    assert usage.funders_with_pending() == set()

    refused = [r for r in records if r["funder_id"] in deleted]
    assert named + check.failed_records == len(refused)
    billed = {key: total for key, total in expected_totals(records).items() if key[0] not in deleted}
    for funder_id in funder_ids:
        for kind in ("case", "sms"):
            counted = meter_total(stripe_client, f"incytes_{kind}", world["customers"][funder_id], now)
            assert counted == billed.get((funder_id, kind), 0), (funder_id, kind)
            ledger = usage.between(funder_id, "0000", "9999")
            reported = sum(r.quantity for r in ledger if r.kind == kind and r.status == "reported")
            assert reported == counted, (funder_id, kind)
            statuses = {r.status for r in ledger if r.kind == kind}
            assert statuses <= ({"failed"} if funder_id in deleted else {"reported"}), (funder_id, kind, statuses)
