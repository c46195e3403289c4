"""Powertools REST resolver configured for the contract in docs/contract.md.

Every error leaves as `{"error": {"code", "message"[, "details"]}}`; bad input is a 4xx, never a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import json
import warnings
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing import invocation
from incytes_billing.errors import BillingError
from incytes_billing.models.caller import Caller

logger = Logger(child=True)
# Read-only routes publish no business metric; that is expected, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": error}),
        headers=headers,
    )


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ())]
        kind = problem.get("type", "invalid")
        message = problem.get("msg", "invalid")
        if kind == "json_invalid":  # its loc holds a character offset, not a field
            location = location[:1]
            message = f"{message}: {problem.get('ctx', {}).get('error', 'malformed JSON')}"
        details.append(
            {
                "location": location[0] if location else "request",
                "field": ".".join(location[1:]),
                "message": message,
                "type": kind,
            }
        )
    return details


def create_api_resolver(*, enable_validation: bool = True) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=enable_validation)

    @app.exception_handler(BillingError)
    def _billing_error(error: BillingError) -> Response[str]:
        headers = None
        if error.retry_after_seconds is not None:
            headers = {"Retry-After": str(error.retry_after_seconds)}
        logger.info("request refused", extra={"error_code": error.code, "status": error.status})
        return error_response(error.status, error.code, error.message, details=error.details, headers=headers)

    @app.exception_handler(RequestValidationError)  # only raised when validation is enabled
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        details = validation_details(error)
        summary = "; ".join(f"{detail['field'] or detail['location']}: {detail['message']}" for detail in details[:3])
        return error_response(422, "validation_error", f"The request is invalid: {summary}.", details=details)

    @app.exception_handler(RecursionError)  # json.loads of a body nested thousands deep
    def _nested_too_deep(_: RecursionError) -> Response[str]:
        return error_response(422, "validation_error", "The request body is not valid JSON: it is nested too deep.")

    @app.not_found
    def _no_route(_: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, "route_not_found", f"No route {event.http_method} {event.path}.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # Not bad input: a fault of ours. Logged with its trace; the caller sees no internals.
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "An internal error occurred; it has been logged.")

    return app


def resolve_json_api(app: APIGatewayRestResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve `event`, reading every body as JSON whatever Content-Type says (`curl -d` sends a form type).

    A base64 body (API Gateway's binary passthrough, `sam local generate-event --body`) is decoded here, so
    that one which is not UTF-8 is a 422 like any other malformed body.
    """
    # Stripe calls fit in this invocation's time (a 503, never a timeout); the audit trail names the caller.
    request_context = event.get("requestContext") or {}
    invocation.begin(context, caller=caller_of(event), http_request_id=request_context.get("requestId"))
    if _has_control_characters(event):
        # The resolver's route patterns end in `$`, which also matches before a final newline: `/funders/f1%0A`
        # would reach funder `f1`. No id holds a control character, so such a path is refused whole.
        return _proxy_error(422, "validation_error", "The request path contains control characters (e.g. a newline).")
    if event.get("isBase64Encoded") and event.get("body"):
        try:
            text = base64.b64decode(event["body"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _proxy_error(422, "validation_error", "The request body is not UTF-8 encoded JSON.")
        event = {**event, "body": text, "isBase64Encoded": False}
    headers = {key: value for key, value in (event.get("headers") or {}).items() if key.lower() != "content-type"}
    headers["content-type"] = content_types.APPLICATION_JSON
    multi = {
        key: value for key, value in (event.get("multiValueHeaders") or {}).items() if key.lower() != "content-type"
    }
    multi["content-type"] = [content_types.APPLICATION_JSON]
    return app.resolve({**event, "headers": headers, "multiValueHeaders": multi}, context)


def caller_of(event: dict[str, Any]) -> Caller:
    """The IAM identity API Gateway put in the proxy event (AWS_IAM auth); only who, never the access key."""
    identity = (event.get("requestContext") or {}).get("identity") or {}

    def text(name: str) -> str | None:
        value = identity.get(name)
        return value if isinstance(value, str) and value else None

    return Caller(user_arn=text("userArn"), caller=text("caller"), account_id=text("accountId"), user=text("user"))


def _has_control_characters(event: dict[str, Any]) -> bool:
    values = [str(event.get("path") or ""), *(str(v) for v in (event.get("pathParameters") or {}).values())]
    return any(ord(character) < 0x20 or character == "\x7f" for value in values for character in value)


def _proxy_error(status: int, code: str, message: str) -> dict[str, Any]:
    """An error answered before the resolver runs, in the REST proxy result shape it would produce."""
    return {
        "statusCode": status,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps({"error": {"code": code, "message": message}}),
        "isBase64Encoded": False,
    }
