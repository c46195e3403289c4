"""Finance's notices (SNS), each published once per key: claimed by a conditional write first, marked after.
A crash between the two leaves a claim that goes stale and is taken over, so a notice is sent at least once
and, in normal operation, once (docs/business-rules.md § Failure rules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from incytes_billing.errors import RetryLater
from incytes_billing.models.events import FinanceNotice
from incytes_billing.ports import FinanceNotifier, NotificationClaims


class FinanceNotices:
    def __init__(
        self,
        claims: NotificationClaims,
        notifier: FinanceNotifier,
        *,
        claim_stale_seconds: int = 300,  # a claim older than this was left by a crashed worker: take it over
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._claims = claims
        self._notifier = notifier
        self._claim_stale_seconds = claim_stale_seconds
        self._clock = clock

    def notify(self, notice: FinanceNotice) -> None:
        """Publish `notice` unless its key was published already; RetryLater while another worker holds it."""
        now = int(self._clock().timestamp())
        outcome = self._claims.claim(notice.key, now=now, stale_after=self._claim_stale_seconds)
        if outcome == "published":
            return
        if outcome == "in_flight":
            raise RetryLater(f"notification {notice.key} is being published by another worker")
        self._notifier.publish(notice)
        self._claims.mark_published(notice.key, now=now)
