"""AuditLog on the DynamoDB AuditTable (key: funder_id + entry_key, `recorded_at#request_id`: newest last)."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from incytes_billing.adapters.dynamodb_items import (
    DynamoDBTableAdapter,
    as_models,
    every_item,
    is_conditional_check_failure,
)
from incytes_billing.metric_names import AUDIT_WRITE_FAILED

if TYPE_CHECKING:
    from incytes_billing.models.audit import AuditEntry

SORT_KEY = "entry_key"
logger = Logger(child=True)
metrics = Metrics()  # shares the handler's metric set: published with its metrics


class DynamoDBAuditLog(DynamoDBTableAdapter):
    def append(self, entry: AuditEntry) -> None:
        item = {**entry.model_dump(mode="json"), SORT_KEY: entry.sort_key}
        try:
            # boto3 has retried throttling and 5xx by now (DynamoDB's default: up to 10 attempts).
            self._table.put_item(Item=item, ConditionExpression=f"attribute_not_exists({SORT_KEY})")
        except ClientError as error:
            if not is_conditional_check_failure(error):  # else stored already: once is enough
                _unwritten(item, error)
        except BotoCoreError as error:
            _unwritten(item, error)

    def page(self, funder_id: str, *, limit: int, after: str | None) -> tuple[list[AuditEntry], str | None]:
        from incytes_billing.models.audit import AuditEntry  # built when the trail is first read (issue 12 §1)

        params: dict[str, Any] = {
            "KeyConditionExpression": Key("funder_id").eq(funder_id),
            "ScanIndexForward": False,  # newest first
            "Limit": limit + 1,  # one more tells whether another page exists
        }
        if after is not None:
            params["ExclusiveStartKey"] = {"funder_id": funder_id, SORT_KEY: after}
        items = list(islice(every_item(self._table.query, **params), limit + 1))
        entries = as_models(AuditEntry, items[:limit])
        return entries, (entries[-1].sort_key if len(items) > limit else None)


def _unwritten(item: dict[str, Any], error: Exception) -> None:
    """The action is done and answered; its entry lives on in this log line (restore it from CloudWatch Logs:
    it is the item as it would have been written) and the alarm on AuditWriteFailed calls someone."""
    logger.error(
        "audit entry not written",
        extra={"audit_entry": item, "audit_table_error": type(error).__name__},
    )
    metrics.add_metric(name=AUDIT_WRITE_FAILED, unit=MetricUnit.Count, value=1)
