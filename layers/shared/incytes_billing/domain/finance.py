"""Finance's notices (SNS), each published once per key: claimed by a conditional write first, marked after.
A crash between the two leaves a claim that goes stale and is taken over, so a notice is sent at least once
and, in normal operation, once (docs/business-rules.md § Failure rules)."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from incytes_billing.domain.clock import TimedService
from incytes_billing.errors import RetryLater
from incytes_billing.models.events import FinanceNotice
from incytes_billing.ports import FinanceNotifier, NotificationClaims


@dataclass(eq=False)
class FinanceNotices(TimedService):
    claims: NotificationClaims
    notifier: FinanceNotifier
    _: KW_ONLY
    claim_stale_seconds: int = 300  # a claim older than this was left by a crashed worker: take it over

    def notify(self, notice: FinanceNotice) -> None:
        """Publish `notice` unless its key was published already; RetryLater while another worker holds it."""
        now = int(self.clock().timestamp())
        outcome = self.claims.claim(notice.key, now=now, stale_after=self.claim_stale_seconds)
        if outcome == "published":
            return
        if outcome == "in_flight":
            raise RetryLater(f"notification {notice.key} is being published by another worker")
        self.notifier.publish(notice)
        self.claims.mark_published(notice.key, now=now)
