"""GET /invoices?review_status=…, GET /invoices/{invoice_id} and POST /invoices/{invoice_id}/approve: Finance's
review; GET /funders/{funder_id}/audit: the funder's audit trail (who did what to its billing)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.domain.audit import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from incytes_billing.http.api import create_api_resolver, json_response, resolve_json_api
from incytes_billing.http.params import FunderId
from incytes_billing.models.common import ReviewStatus
from incytes_billing.wiring import invoices as wiring

logger = Logger()
metrics = Metrics()
app = create_api_resolver()

InvoiceId = Annotated[str, Path(pattern=r"^in_[A-Za-z0-9]{1,250}$", description="Stripe invoice id")]


@app.get("/invoices")
def list_invoices(review_status: Annotated[ReviewStatus, Query()] = "pending") -> Response[str]:
    invoices = wiring.invoice_review_service().listed(review_status)
    return json_response(200, {"review_status": review_status, "invoices": [i.api_view() for i in invoices]})


@app.get("/invoices/<invoice_id>")
def get_invoice(invoice_id: InvoiceId) -> Response[str]:
    return json_response(200, wiring.invoice_review_service().invoice(invoice_id).api_view())


@app.post("/invoices/<invoice_id>/approve")
def approve_invoice(invoice_id: InvoiceId) -> Response[str]:
    invoice = wiring.invoice_review_service().approve(invoice_id)
    metrics.add_metric(name="InvoiceApproved", unit=MetricUnit.Count, value=1)
    return json_response(200, {"invoice_id": invoice.invoice_id, "status": invoice.status, "review_status": "approved"})


@app.get("/funders/<funder_id>/audit")
def funder_audit(
    funder_id: FunderId,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response[str]:
    page = wiring.audit_history().page(funder_id, limit=limit, cursor=cursor)
    body = {"funder_id": funder_id, "entries": [e.api_view() for e in page.entries], "next_cursor": page.next_cursor}
    return json_response(200, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve_json_api(app, event, context)
