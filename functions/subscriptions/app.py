"""POST/PUT/PATCH/DELETE /funders/{funder_id}/subscription: the funder's Stripe subscription."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from incytes_billing.http.api import create_api_resolver, error_response, json_response, resolve_json_api
from incytes_billing.http.params import FunderId
from incytes_billing.models.subscription import (
    CancelWhen,
    ChangeSeatsRequest,
    CreateSubscriptionRequest,
    LinkSubscriptionRequest,
)
from incytes_billing.wiring import subscriptions as wiring

# Only a create that sends an Idempotency-Key uses the idempotency utility: it is loaded by the first such request
# (`_create_once_per_key`), not at init (issue 12 §1).
if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
app = create_api_resolver()

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def _create(request: dict[str, Any]) -> dict[str, Any]:
    funder = wiring.subscription_service().create(
        request["funder_id"], seats=request["seats"], currency=request["currency"]
    )
    assert funder.subscription is not None
    metrics.add_metric(name="SubscriptionCreated", unit=MetricUnit.Count, value=1)
    first_invoice = funder.subscription.first_invoice
    if first_invoice is not None and first_invoice.review_status == "pending":
        _announce(request["funder_id"], first_invoice.id)
    return funder.subscription.creation_view()


def _announce(funder_id: str, invoice_id: str) -> None:
    """Finance's review notice, now rather than when the webhook comes. The subscription is made and stored:
    a failure here must not turn the click into an error (a retry would find the subscription and answer 409);
    the invoice.created webhook and the 15-minute hold check announce it too, under the same notice key."""
    try:
        context = app.current_event.request_context
        wiring.event_processor().announce_first_invoice(
            funder_id, invoice_id, api_base_url=wiring.approval_base_url(context.domain_name, context.stage)
        )
    except Exception:  # logged, and re-driven by the webhook path: never lost
        logger.exception("review notice not sent by the create path", extra={"invoice_id": invoice_id})
        metrics.add_metric(name="ReviewNoticeDeferred", unit=MetricUnit.Count, value=1)


@cache
def _create_once_per_key() -> Callable[..., dict[str, Any]]:
    # Built by the first create that sends a key, with the answers to a refused key (the handlers below).
    for error, refusal in zip(wiring.idempotency_refusals(), KEY_REFUSALS, strict=True):
        app.exception_handler(error)(_refusal(*refusal))
    return wiring.once_per_key(_create)


@app.post("/funders/<funder_id>/subscription")
def create_subscription(
    funder_id: FunderId, body: Annotated[CreateSubscriptionRequest | None, Body()] = None
) -> Response[str]:
    body = body or CreateSubscriptionRequest()
    request = {"funder_id": funder_id, "seats": body.seats, "currency": body.currency}
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)  # case-insensitive
    if key is None:
        return json_response(201, _create(request))
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        return error_response(
            422,
            "validation_error",
            f"The {IDEMPOTENCY_HEADER} header must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
        )
    once_per_key = _create_once_per_key()
    wiring.idempotency_config().register_lambda_context(app.lambda_context)  # an in-progress record ends with it
    return json_response(201, once_per_key(request={**request, "idempotency_key": key}))


@app.put("/funders/<funder_id>/subscription")
def link_subscription(funder_id: FunderId, body: Annotated[LinkSubscriptionRequest, Body()]) -> Response[str]:
    funder = wiring.subscription_service().link(funder_id, body.subscription_id)
    return json_response(200, funder.api_view())


@app.patch("/funders/<funder_id>/subscription")
def change_seats(funder_id: FunderId, body: Annotated[ChangeSeatsRequest, Body()]) -> Response[str]:
    funder = wiring.subscription_service().change_seats(funder_id, body.seats)
    return json_response(200, funder.api_view())


@app.delete("/funders/<funder_id>/subscription")
def cancel_subscription(funder_id: FunderId, when: Annotated[CancelWhen, Query()] = "period_end") -> Response[str]:
    funder = wiring.subscription_service().cancel(funder_id, when)
    return json_response(200, funder.api_view())


# How a repeated Idempotency-Key is refused (status, code, message, headers), in the order
# `wiring.idempotency_refusals()` names the utility's two errors; registered by `_create_once_per_key`.
KEY_REFUSALS: tuple[tuple[int, str, str, dict[str, str] | None], ...] = (
    # Its first request is still being served: worth retrying shortly.
    (
        409,
        "request_in_progress",
        f"A request with this {IDEMPOTENCY_HEADER} is still being processed; retry shortly.",
        {"Retry-After": "2"},
    ),
    # Its first request had another body.
    (
        422,
        "idempotency_key_reused",
        f"This {IDEMPOTENCY_HEADER} was used for a request with another body; use a new key.",
        None,
    ),
)


def _refusal(
    status: int, code: str, message: str, headers: dict[str, str] | None
) -> Callable[[Exception], Response[str]]:
    return lambda _: error_response(status, code, message, headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve_json_api(app, event, context)
