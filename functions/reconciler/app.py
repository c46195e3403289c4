"""Scheduled reconciler: ledger vs Stripe meter summaries (discrepancies to Finance), and replay of Stripe
events that were never delivered to our webhook."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing import wiring

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = wiring.reconciler().run(sorted(wiring.usage_repository().funders()))
    metrics.add_metric(name="UsageDiscrepancies", unit=MetricUnit.Count, value=len(report.discrepancies))
    metrics.add_metric(name="StripeEventsReplayed", unit=MetricUnit.Count, value=report.replayed)
    logger.info("reconciled", extra={"compared": report.compared, "discrepancies": report.discrepancies})
    return {"compared": report.compared, "discrepancies": report.discrepancies, "replayed": report.replayed}
