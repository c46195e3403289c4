"""POST /funders/{funder_id}/usage, POST /usage, GET /funders/{funder_id}/usage: the usage ledger.

Imports no `stripe` and calls no Stripe API: each record is one conditional DynamoDB write, answered at once;
the reporter bills it later through Stripe meters.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.http.api import create_api_resolver, json_response, resolve_json_api
from incytes_billing.http.params import FunderId
from incytes_billing.models.common import Rfc3339Time
from incytes_billing.models.usage import UsageBatchRequest, UsageInput
from incytes_billing.wiring.usage import usage_ledger

logger = Logger()
metrics = Metrics()
app = create_api_resolver()


@app.post("/funders/<funder_id>/usage")
def record_usage(funder_id: FunderId, usage: Annotated[UsageInput, Body()]) -> Response[str]:
    receipt = usage_ledger().record(funder_id, usage)
    metrics.add_metric(name=f"Usage_{receipt}", unit=MetricUnit.Count, value=1)
    body = {"funder_id": funder_id, "usage_id": usage.usage_id, "status": receipt}
    return json_response(202 if receipt == "accepted" else 200, body)


@app.post("/usage")
def record_usage_batch(batch: Annotated[UsageBatchRequest, Body()]) -> Response[str]:
    results = usage_ledger().record_batch(batch.records)
    for status in ("accepted", "duplicate", "rejected"):
        metrics.add_metric(
            name=f"Usage_{status}", unit=MetricUnit.Count, value=sum(r["status"] == status for r in results)
        )
    return json_response(200, {"results": results})


@app.get("/funders/<funder_id>/usage")
def usage_totals(
    funder_id: FunderId,
    start: Annotated[Rfc3339Time | None, Query(alias="from")] = None,
    end: Annotated[Rfc3339Time | None, Query(alias="to")] = None,
) -> Response[str]:
    return json_response(200, usage_ledger().totals(funder_id, start, end))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve_json_api(app, event, context)
