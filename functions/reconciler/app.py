"""Scheduled reconciler: settles meter batches against Stripe's meter summaries (streamed ones, and saved ones
over 24 h old), compares our batches with the summaries (discrepancies to Finance), and replays Stripe events
that were never delivered to our webhook."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing import invocation
from incytes_billing.metric_names import USAGE_FAILED
from incytes_billing.wiring import reconciler as wiring

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation.begin(context)  # Stripe calls stop before the function would time out
    # Every funder (the funders table is small; the usage ledger is not): each is checked and compared.
    report = wiring.reconciler().run(wiring.funder_repository().funder_ids())
    metrics.add_metric(name="UsageDiscrepancies", unit=MetricUnit.Count, value=len(report.discrepancies))
    metrics.add_metric(name="StripeEventsReplayed", unit=MetricUnit.Count, value=report.replay.replayed)
    metrics.add_metric(name="StripeEventsReplayFailed", unit=MetricUnit.Count, value=len(report.replay.failed))
    for failed in report.replay.failed:
        logger.warning("undelivered event not replayed: tried again next run", extra=asdict(failed))
    batches = report.batches
    metrics.add_metric(name="UsageBatchesConfirmed", unit=MetricUnit.Count, value=batches.confirmed)
    metrics.add_metric(name="UsageBatchesResent", unit=MetricUnit.Count, value=batches.resent)
    metrics.add_metric(name="UsageBatchesUnattributed", unit=MetricUnit.Count, value=len(batches.unattributed))
    metrics.add_metric(name=USAGE_FAILED, unit=MetricUnit.Count, value=batches.failed_records)  # the alarm's
    logger.info(
        "reconciled",
        extra={"compared": report.compared, "discrepancies": report.discrepancies, "batches": asdict(batches)},
    )
    return {
        "compared": report.compared,
        "discrepancies": report.discrepancies,
        "replayed": report.replay.replayed,
        "replay_failed": [failed.event_id for failed in report.replay.failed],
        "batches": asdict(batches),
    }
