"""POST /stripe/webhook: verify Stripe's signature, store the event, hand it on, acknowledge fast.

No IAM here: the signature is the authentication. The ack path calls no Stripe API, and answers 5xx only
when the event could not be stored (so that Stripe retries).
"""

from __future__ import annotations

import binascii
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from incytes_billing.adapters.stripe_webhooks import verify_event
from incytes_billing.errors import InvalidPayload, InvalidSignature
from incytes_billing.http.api import create_api_resolver, json_response
from incytes_billing.metric_names import WEBHOOK_REJECTED_PREFIX
from incytes_billing.wiring import webhook as wiring

logger = Logger()
metrics = Metrics()
app = create_api_resolver(enable_validation=False)  # the body must stay raw: the signature covers its bytes


@app.post("/stripe/webhook")
def receive_stripe_event() -> Response[str]:
    request = app.current_event
    try:
        payload = request.decoded_body or ""  # API Gateway may hand the body over base64-encoded
    except (binascii.Error, UnicodeDecodeError) as error:
        raise _rejected(InvalidPayload("The webhook body is not UTF-8 text.")) from error
    try:
        event = verify_event(
            payload, request.headers.get("Stripe-Signature"), wiring.webhook_secrets(), now=time.time()
        )
    except (InvalidSignature, InvalidPayload) as error:
        raise _rejected(error) from None
    receipt = wiring.webhook_ingress().accept(event)
    metrics.add_metric(
        name="WebhookStored" if receipt == "stored" else "WebhookDuplicate", unit=MetricUnit.Count, value=1
    )
    logger.info(
        "stripe event received", extra={"event_id": event.event_id, "event_type": event.type, "receipt": receipt}
    )
    return json_response(200, {"received": True, "event_id": event.event_id, "duplicate": receipt == "duplicate"})


def _rejected(error: InvalidSignature | InvalidPayload) -> InvalidSignature | InvalidPayload:
    # Counted per reason; never logged with the secret or the body.
    metrics.add_metric(name=f"{WEBHOOK_REJECTED_PREFIX}{error.code}", unit=MetricUnit.Count, value=1)
    logger.warning("stripe webhook rejected", extra={"error_code": error.code, "reason": error.message})
    return error


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
