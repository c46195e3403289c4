"""SQS consumer: applies the Stripe events the webhook stored (one event id per message) and those Stripe's
EventBridge destinations deliver (the rule queues the whole EventBridge event: it is checked and stored first).

A message whose event cannot be applied yet is reported as a batch item failure and comes back later, with a
visibility timeout that grows with each receive; after the queue's maxReceiveCount it lands in the DLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.domain.webhooks import MAX_RETRY_DELAY_SECONDS
from incytes_billing.errors import ForeignEvent, InvalidPayload, RetryLater
from incytes_billing.invocation import worker_handler
from incytes_billing.metric_names import EVENTBRIDGE_REFUSED, USAGE_FAILED
from incytes_billing.wiring import webhook_processor as wiring

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def apply_event(record: SQSRecord) -> None:
    event_id = record.body if not record.body.startswith("{") else _stored_from_eventbridge(record.body)
    if event_id is None:
        return
    try:
        processed = wiring.event_processor().process(event_id)
    except RetryLater as reason:
        logger.info("event deferred", extra={"event_id": event_id, "reason": str(reason)})
        _back_off(record)
        raise
    except Exception:
        logger.exception("event failed", extra={"event_id": event_id})
        _back_off(record)
        raise
    metrics.add_metric(name=f"StripeEvent_{processed.status or 'unknown'}", unit=MetricUnit.Count, value=1)
    logger.info("event applied", extra={"event_id": event_id, "outcome": processed.status})
    meter_errors = processed.meter_errors
    if meter_errors.failed_records:  # the failed-usage alarm watches this metric
        metrics.add_metric(name=USAGE_FAILED, unit=MetricUnit.Count, value=meter_errors.failed_records)
    if meter_errors.unattributed_errors:
        logger.warning(
            "meter errors no sample names: the reconciler settles their batches against the meter summaries",
            extra={"event_id": event_id, "unattributed": meter_errors.unattributed_errors},
        )


def _stored_from_eventbridge(body: str) -> str | None:
    """The id of the event an EventBridge message carries, stored; None when it is refused (not retried: it would
    never pass). A failed store raises, and the message comes back."""
    try:
        return wiring.store_eventbridge_event(body)
    except (InvalidPayload, ForeignEvent) as refused:
        metrics.add_metric(name=EVENTBRIDGE_REFUSED, unit=MetricUnit.Count, value=1)
        logger.warning("eventbridge event refused", extra={"reason": str(refused)})
        return None


def _back_off(record: SQSRecord) -> None:
    """Exponential backoff: the failed message becomes visible again after 10 s, 20 s, 40 s, ... 15 min."""
    receives = int(record.attributes.approximate_receive_count or 1)
    delay = min(MAX_RETRY_DELAY_SECONDS, wiring.config().retry_base_seconds * 2 ** (receives - 1))
    try:
        wiring.event_queue().retry_after(record.receipt_handle, delay)
    except Exception:  # the queue's own visibility timeout still applies
        logger.warning("could not set the retry delay", extra={"message_id": record.message_id})


@worker_handler(logger, metrics)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=apply_event, processor=processor, context=context)
