"""Scheduled: remind Finance of first-invoice drafts still pending review after REVIEW_REMINDER_DAYS days."""

from __future__ import annotations

import os
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
    days = int(os.environ.get("REVIEW_REMINDER_DAYS", "2"))
    reminded = wiring.event_processor().remind_pending_reviews(older_than_days=days)
    metrics.add_metric(name="ReviewRemindersSent", unit=MetricUnit.Count, value=len(reminded))
    logger.info("pending reviews reminded", extra={"invoices": reminded, "older_than_days": days})
    return {"reminded": reminded}
