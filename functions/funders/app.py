"""PUT/GET /funders/{funder_id}: link an inCytes funder to its Stripe customer."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.http.api import create_api_resolver, json_response, resolve_json_api
from incytes_billing.http.params import FunderId
from incytes_billing.models.funder import FunderUpsert
from incytes_billing.wiring import funders as wiring

logger = Logger()
metrics = Metrics()
app = create_api_resolver()


@app.get("/funders/<funder_id>")
def get_funder(funder_id: FunderId) -> Response[str]:
    return json_response(200, wiring.funder_service().get(funder_id).api_view())


@app.put("/funders/<funder_id>")
def put_funder(funder_id: FunderId, funder: Annotated[FunderUpsert, Body()]) -> Response[str]:
    saved = wiring.funder_service().upsert(funder_id, funder)
    metrics.add_metric(name="FunderUpserted", unit=MetricUnit.Count, value=1)
    return json_response(200, saved.api_view())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve_json_api(app, event, context)
