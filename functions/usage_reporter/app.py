"""Reports the usage ledger to Stripe meters. Two triggers, one job:

- the UsageTable stream (new records): reports the funders those records belong to;
- a schedule: re-drives every funder with records still pending (waiting for a subscription, or left by a
  failed attempt).

The stream is only a trigger: the ledger itself says what is pending, so a retried or re-split stream batch
reports nothing twice. Powertools' batch processor works record by record; this aggregates the whole batch
(one meter event per funder, kind and period), so stream failures are reported by hand: the first record of a
funder whose usage could not be sent (Stripe unavailable), from where Lambda retries (bisecting, then the
on-failure destination).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.invocation import worker_handler
from incytes_billing.metric_names import USAGE_FAILED
from incytes_billing.wiring import usage_reporter as wiring

if TYPE_CHECKING:  # the reporter loads it with the models it reports (wiring.usage_reporter)
    from incytes_billing.domain.reporting import ReportSummary

logger = Logger()
metrics = Metrics()


def _funder_of(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["funder_id"]["S"])


def _publish(summary: ReportSummary) -> None:
    for name in ("sent_batches", "streamed_batches", "reported", "unbillable", "waiting"):
        metrics.add_metric(name=f"Usage_{name}", unit=MetricUnit.Count, value=getattr(summary, name))
    metrics.add_metric(name=USAGE_FAILED, unit=MetricUnit.Count, value=summary.failed)  # the alarm's
    metrics.add_metric(name="Usage_awaiting_validation", unit=MetricUnit.Count, value=summary.awaiting_validation)
    if summary.failure_reasons:
        logger.warning("usage not billed yet", extra={"reasons": summary.failure_reasons[:20]})


@worker_handler(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reporter = wiring.usage_reporter()
    if "Records" not in event:  # the schedule
        summary = reporter.report_pending()
        _publish(summary)
        return {"reported": summary.reported, "waiting": summary.waiting, "streamed": summary.awaiting_validation}

    records = [r for r in event["Records"] if r.get("eventName") == "INSERT"]
    summary = reporter.report_funders({_funder_of(r) for r in records})
    _publish(summary)
    # Stripe was unavailable for these funders: Lambda retries from their first record (then bisects).
    deferred = [r["dynamodb"]["SequenceNumber"] for r in records if _funder_of(r) in summary.deferred_funders][:1]
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in deferred]}
