"""Usage benchmark (issue 5): the aggregated reporter against a naive one (one meter event per record),
measured in the same run on the same moto tables and Stripe emulator. Reported, not asserted.

Figures: Stripe requests per 1,000 records (goal <= 10), DynamoDB writes per record (goal <= 2), ingest
handler time per record, reporter records per second; each beside the naive baseline, as ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_METRICS_DISABLED="true",  # the handlers' metric lines would bury the table
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
import stripe
from moto import mock_aws

from incytes_billing.adapters.dynamodb_batches import DynamoDBMeterBatchStore
from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
from incytes_billing.adapters.stripe_gateway import StripeGateway, build_stripe_client
from incytes_billing.config import StripeSettings
from incytes_billing.domain.batch_checks import BatchChecker, BatchCheckReport
from incytes_billing.domain.policy import MeterEventMode
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.usage import MeterBatch
from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.lambda_runtime import LambdaRunner
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.document import load_template
from stripe_emulator import StripeEmulator
from tests.support import usage_ready_funders

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk_test_emulator"
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def count_dynamodb_writes(counter: Counter[str]) -> None:
    def count(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            counter[model.name] += 1

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", count)


def ingest(runner: LambdaRunner, records: int, funder_ids: list[str], prefix: str) -> float:
    """Record usage through the real handler (API Gateway events); answer the seconds it took."""
    event = json.loads((ROOT / "events/usage/post_usage.json").read_text())
    now = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    for i in range(records):
        funder = funder_ids[i % len(funder_ids)]
        event["path"], event["pathParameters"] = f"/funders/{funder}/usage", {"funder_id": funder}
        kind = "case" if i % 2 else "sms"
        event["body"] = json.dumps({"usage_id": f"{prefix}{i}", "kind": kind, "quantity": 1, "occurred_at": now})
        assert runner.invoke("UsageFunction", event).result["statusCode"] == 202
    return time.perf_counter() - started


def report_naively(usage: DynamoDBUsageRepository, funders: DynamoDBFunderRepository, gateway: StripeGateway) -> int:
    """The baseline: one meter event per record, then its mark. Answers the records reported."""
    reported = 0
    for funder_id in sorted(usage.funders_with_pending()):
        customer = funders.get(funder_id).stripe_customer_id  # type: ignore[union-attr]
        for record in usage.pending(funder_id):
            gateway.send_meter_event(
                MeterBatch(
                    batch_id=record.usage_id,
                    funder_id=funder_id,
                    kind=record.kind,
                    customer_id=str(customer),
                    event_name=f"incytes_{record.kind}",
                    value=record.quantity,
                    timestamp=int(time.time()),
                    record_ids=[record.usage_id],
                    identifier=f"naive-{record.usage_id}",
                    created_at=int(time.time()),
                )
            )
            usage.settle(record, "reported")
            reported += 1
    return reported


MODES = ("naive", "sync", "stream")


@dataclass
class Bench:
    emulator: StripeEmulator
    writes: Counter[str]
    runner: LambdaRunner
    usage: DynamoDBUsageRepository
    funders: DynamoDBFunderRepository
    gateway: StripeGateway
    client: stripe.StripeClient
    funders_table: Any
    started: datetime
    resources: Any


def measure(bench: Bench, name: str, records: int, funder_count: int, rounds: int) -> dict[str, float]:
    """`rounds` reporter runs (as the stream triggers them), each after its share of the records; in stream
    mode then one confirmation against the meter summaries (the hourly reconciler's work), 16 minutes on."""
    bench.writes.clear()
    bench.emulator.clear_requests_log()
    # Funders (and Stripe customers) of their own per mode: each mode's summaries count only its events.
    prefix = f"{name}-"
    ready = usage_ready_funders(bench.funders_table, bench.client, funder_count, started=bench.started, prefix=prefix)
    funder_ids = sorted(ready)
    batches = DynamoDBMeterBatchStore(boto3.resource("dynamodb").Table(bench.resources["UsageBatchesTable"]))
    mode: MeterEventMode = "stream" if name == "stream" else "sync"
    reporter = UsageReporter(bench.usage, batches, bench.funders, bench.gateway, load_catalog(), mode=mode)
    ingest_seconds = report_seconds = 0.0
    ingest_writes = 0
    per_round = records // rounds
    for round_number in range(rounds):
        writes_before = sum(bench.writes.values())
        ingest_seconds += ingest(bench.runner, per_round, funder_ids, prefix=f"r{round_number}-")
        ingest_writes += sum(bench.writes.values()) - writes_before
        clock = time.perf_counter()
        if name == "naive":
            report_naively(bench.usage, bench.funders, bench.gateway)
        else:
            reporter.report_funders(funder_ids)
        report_seconds += time.perf_counter() - clock
    if name == "stream":
        clock = time.perf_counter()
        later = datetime.now(UTC) + timedelta(minutes=16)  # past the summaries' lag
        checker = BatchChecker(
            usage=bench.usage, batches=batches, funders=bench.funders, meters=bench.gateway,
            summaries=bench.gateway, clock=lambda: later,
        )  # fmt: skip
        report = BatchCheckReport()
        for funder_id in funder_ids:
            checker.check_funder(funder_id, report)
        assert report.refused == report.failed_records == 0, report
        report_seconds += time.perf_counter() - clock
    assert not bench.usage.funders_with_pending() & set(funder_ids), f"{name}: records left pending"
    stripe_requests = sum(1 for e in bench.emulator.requests_log() if is_meter_request(e["path"]))
    reported = per_round * rounds
    return {
        "stripe_requests_per_1000_records": stripe_requests * 1000 / reported,
        "dynamodb_writes_per_record": sum(bench.writes.values()) / reported,
        "ingest_ms_per_record": ingest_seconds * 1000 / reported,
        "reporter_records_per_second": reported / report_seconds,
        "ingest_writes_per_record": ingest_writes / reported,
    }


# Stripe requests the reporting costs: meter events (v1), the stream and its sessions, and (stream mode's
# confirmation) the meter list and summaries.
METER_PATHS = ("/v1/billing/meter_events", "/v2/billing/meter_event_stream", "/v2/billing/meter_event_session")


def is_meter_request(path: str) -> bool:
    return path in METER_PATHS or path == "/v1/billing/meters" or path.endswith("/event_summaries")


def print_table(results: dict[str, dict[str, float]], records: int, funders: int, rounds: int) -> None:
    naive = results["naive"]
    print(
        f"Usage reporting: {records} records across {funders} funders in {rounds} reporter run(s) "
        "(moto + Stripe emulator, in-process)"
    )
    print(f"  {'figure':36} {'naive':>9} {'sync':>9} {'stream':>9} {'naive/sync':>11} {'naive/stream':>13}")
    for figure in naive:
        sync, stream = results["sync"][figure], results["stream"][figure]
        ratios = [naive[figure] / value if value else float("inf") for value in (sync, stream)]
        print(f"  {figure:36} {naive[figure]:9.2f} {sync:9.2f} {stream:9.2f} {ratios[0]:11.2f} {ratios[1]:13.2f}")
    print("goals: <= 10 Stripe requests per 1,000 records; <= 2 DynamoDB writes per record")
    print("stream: streamed, then confirmed against the meter summaries (the reconciler's work, counted here)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--funders", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10, help="reporter runs (stream triggers) before confirming")
    parser.add_argument("--out", type=Path, default=ROOT / "build/bench/usage.json")
    args = parser.parse_args()

    writes: Counter[str] = Counter()
    with mock_aws(), StripeEmulator() as emulator:
        count_dynamodb_writes(writes)
        template = load_template(ROOT / "template.yaml")
        resources = create_aws_resources(template, prefix="bench")
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/incytes-billing/stripe-api-key", Value=KEY, Type="SecureString", Overwrite=True)
        run_catalog_sync(KEY, emulator.url)
        client = stripe.StripeClient(KEY, base_addresses={"api": emulator.url})
        dynamodb = boto3.resource("dynamodb")
        started = datetime.now(UTC) - timedelta(days=1)
        funders_table = dynamodb.Table(resources["FundersTable"])
        runner = LambdaRunner(template, ROOT, resources, {"StripeApiBase": emulator.url})
        usage = DynamoDBUsageRepository(dynamodb.Table(resources["UsageTable"]))
        funders = DynamoDBFunderRepository(dynamodb.Table(resources["FundersTable"]))
        settings = StripeSettings(emulator.url, 10.0, 2, 3, 0.2)
        gateway = StripeGateway(build_stripe_client(KEY, settings), settings)
        bench = Bench(emulator, writes, runner, usage, funders, gateway, client, funders_table, started, resources)
        # Powertools prints a metric line whenever 100 values of one metric pile up, disabled or not: the
        # handlers' output would bury the table.
        with contextlib.redirect_stdout(io.StringIO()):
            results = {name: measure(bench, name, args.records, args.funders, args.rounds) for name in MODES}

    print_table(results, args.records, args.funders, args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"records": args.records, "funders": args.funders, "rounds": args.rounds, **results}
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
