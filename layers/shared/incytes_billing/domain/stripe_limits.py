"""Stripe's documented limits that the code relies on, each with the page that states it (docs/stripe-facts.md).

Only Stripe's numbers live here; our own margins on top of them (how long a summary is given to catch up, how
close to a finalization late usage may still be sent) stay beside the code that chooses them.
Every value is in seconds unless its name says otherwise.
"""

from __future__ import annotations

DAY = 24 * 3600

# A meter event's `timestamp` "must be within the past 35 calendar days or up to 5 minutes in the future".
# https://docs.stripe.com/api/billing/meter-event/create
METER_EVENT_MAX_AGE_SECONDS = 35 * DAY
METER_EVENT_MAX_AHEAD_SECONDS = 5 * 60

# Stripe enforces a meter event `identifier`'s uniqueness "within a rolling period of at least 24 hours": a
# repeat inside it is refused as a duplicate, after it no refusal is promised.
# https://docs.stripe.com/api/billing/meter-event/create
METER_EVENT_IDENTIFIER_WINDOW_SECONDS = DAY

# The v2 meter event stream takes at most 100 events per request ("Supports up to 100 events per request").
# https://docs.stripe.com/api/v2/billing-meter-stream (and stripe-python: `MeterEventStreamCreateParams.events`)
METER_EVENT_STREAM_MAX_EVENTS = 100

# A subscription's draft invoice is finalized an hour after `invoice.created` was delivered successfully, and
# at the latest 72 hours after (when the webhook keeps failing); the hour is configurable per account, which the
# code never assumes: it reads the draft's `automatically_finalizes_at`. The 72 h bound the code does use.
# https://docs.stripe.com/invoicing/integration/workflow-transitions
# https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period
FINALIZATION_MAX_DELAY_SECONDS = 72 * 3600

# Stripe retries an undelivered webhook event for up to 3 days in live mode (a sandbox: a few hours).
# https://docs.stripe.com/webhooks
WEBHOOK_RETRY_SECONDS = 3 * DAY

# The signature's timestamp tolerance the SDKs use by default (5 minutes), against replayed deliveries.
# https://docs.stripe.com/webhooks (and stripe-python: `stripe.Webhook.DEFAULT_TOLERANCE`)
WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = 300
