"""The names of the metrics template.yaml's alarms watch, in one place for the code that emits them and the test
that holds the alarms to them (tests/infra/test_alarm_metrics.py).

Powertools publishes them under the namespace and `service` dimension the template sets for every function
(`POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_SERVICE_NAME`). A metric no alarm watches needs no name here.
"""

from __future__ import annotations

from incytes_billing.errors import InvalidSignature

# An audit entry could not be written (the action succeeded): AuditWriteFailedAlarm.
AUDIT_WRITE_FAILED = "AuditWriteFailed"
# Usage records became `failed` (reporter, meter error reports, reconciler): UsageFailedAlarm.
USAGE_FAILED = "Usage_failed"
# The webhook counts each refused delivery as `WebhookRejected_<contract error code>`.
WEBHOOK_REJECTED_PREFIX = "WebhookRejected_"
# A Stripe-Signature no configured secret verifies (a botched rotation, or forgeries): WebhookRejectedSignaturesAlarm.
WEBHOOK_REJECTED_INVALID_SIGNATURE = f"{WEBHOOK_REJECTED_PREFIX}{InvalidSignature.code}"
# A queued EventBridge event from a source or account not ours, or not a Stripe event (misrouted, or forged by
# someone who may write to the queue): StripeEventRefusedAlarm.
EVENTBRIDGE_REFUSED = "StripeEventRefused"

ALARMED = frozenset({AUDIT_WRITE_FAILED, USAGE_FAILED, WEBHOOK_REJECTED_INVALID_SIGNATURE, EVENTBRIDGE_REFUSED})
