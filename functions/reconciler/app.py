"""Scheduled reconciler: settles meter batches against Stripe's meter summaries (streamed ones, and saved ones
over 24 h old), compares our batches with the summaries (discrepancies to Finance), and replays Stripe events
that were never delivered to our webhook.

Run by hand with `{"replay_archive": {"from": "<RFC 3339>", "to": "<RFC 3339>"}}` it replays that window of the
Stripe event bus's archive instead (StripeEventIngress eventbridge or both).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.errors import ValidationFailed
from incytes_billing.invocation import worker_handler
from incytes_billing.metric_names import USAGE_FAILED
from incytes_billing.wiring import reconciler as wiring

logger = Logger()
metrics = Metrics()


@worker_handler(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "replay_archive" in event:
        return _replay_archive(event["replay_archive"])
    # Every funder (the funders table is small; the usage ledger is not): each is checked and compared.
    report = wiring.reconciler().run(wiring.funder_repository().funder_ids())
    metrics.add_metric(name="UsageDiscrepancies", unit=MetricUnit.Count, value=len(report.discrepancies))
    metrics.add_metric(name="FundersNotReconciled", unit=MetricUnit.Count, value=report.not_compared)
    if report.not_compared:
        logger.warning("out of time: funders left for the next run", extra={"not_compared": report.not_compared})
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
        "not_compared": report.not_compared,
        "discrepancies": report.discrepancies,
        "replayed": report.replay.replayed,
        "replay_failed": [failed.event_id for failed in report.replay.failed],
        "batches": asdict(batches),
    }


def _replay_archive(window: object) -> dict[str, Any]:
    """Answers the operator: the replays started, or what is wrong with the request (never raised: a manual run)."""
    try:
        if not isinstance(window, dict):
            raise ValidationFailed('replay_archive takes {"from": "<RFC 3339>", "to": "<RFC 3339>"}.')
        start, end = (_instant(window.get(bound), bound) for bound in ("from", "to"))
        replays = wiring.archive_replay().replay(start, end)
    except ValidationFailed as error:
        return {"error": {"code": error.code, "message": error.message}}
    logger.info("archive replay started", extra={"replays": replays})
    return {"replays": replays}


def _instant(text: object, bound: str) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        raise ValidationFailed(f"replay_archive.{bound} is not an RFC 3339 time: {text!r}.") from None
