"""Scheduled: keep first-invoice drafts held (every 15 minutes), and remind Finance of drafts still pending
review after REVIEW_REMINDER_DAYS days (daily)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.invocation import worker_handler
from incytes_billing.wiring import review_reminder as wiring

logger = Logger()
metrics = Metrics()


@worker_handler(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = wiring.event_processor()
    # Every run checks the holds: a draft Stripe would finalize unreviewed is held again, or told as missed.
    missed = processor.check_held_drafts()
    metrics.add_metric(name="FirstInvoicesMissed", unit=MetricUnit.Count, value=len(missed))
    if event.get("task") == "check_holds":
        return {"missed": missed}
    days = wiring.config().reminder_days
    reminded = processor.remind_pending_reviews(older_than_days=days)
    metrics.add_metric(name="ReviewRemindersSent", unit=MetricUnit.Count, value=len(reminded))
    logger.info("pending reviews reminded", extra={"invoices": reminded, "older_than_days": days})
    return {"missed": missed, "reminded": reminded}
