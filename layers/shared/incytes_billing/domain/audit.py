"""The audit trail: every billing action recorded once, with who asked (the IAM caller), when, API Gateway's
request id and the Stripe requests it made; and Finance's view of it (GET /funders/{funder_id}/audit).

Services record an action only when it changed something: a replay (same Idempotency-Key, same seats, an
approval already made, usage already recorded) records nothing, so a retried request never duplicates it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from incytes_billing import invocation
from incytes_billing.domain.clock import Clock, TimedService, utc_now
from incytes_billing.errors import FunderNotFound, ValidationFailed
from incytes_billing.ports import AuditLog, FunderRepository

if TYPE_CHECKING:  # the models are built when an entry is first recorded or read, not at init (issue 12 §1)
    from incytes_billing.models.audit import AuditAction, AuditDetail, AuditEntry, AuditPage

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# A sort key: recorded_at (RFC 3339, UTC, milliseconds) '#' request id.
_SORT_KEY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z#[\x21-\x7e]{1,200}$")


def utc_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditTrail:
    log: AuditLog
    _: KW_ONLY
    clock: Clock = utc_now

    def record(self, funder_id: str, action: AuditAction, **details: AuditDetail) -> AuditEntry:
        """Record that `action` was done for the current request (it never fails the request: see AuditLog)."""
        from incytes_billing.models.audit import AuditEntry

        current = invocation.current()
        entry = AuditEntry(
            funder_id=funder_id,
            recorded_at=utc_millis(self.clock()),
            request_id=current.http_request_id or current.request_id,
            action=action,
            caller=current.caller,
            stripe_request_ids=list(current.stripe_request_ids),
            details=details,
        )
        self.log.append(entry)
        return entry


class _Unrecorded:
    """No audit log (services built without one, e.g. by unit tests of other behaviour)."""

    def append(self, entry: AuditEntry) -> None:
        pass

    def page(self, funder_id: str, *, limit: int, after: str | None) -> tuple[list[AuditEntry], str | None]:
        return [], None


UNRECORDED = AuditTrail(_Unrecorded())


@dataclass(eq=False)
class AuditedService(TimedService):
    """A domain service whose changes are recorded: by keyword, after the clock, the audit trail to record in."""

    _: KW_ONLY
    audit: AuditTrail = UNRECORDED


@dataclass(eq=False)
class AuditHistory:
    """Finance's view: a funder's entries, newest first, a page at a time."""

    log: AuditLog
    funders: FunderRepository

    def page(self, funder_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> AuditPage:
        from incytes_billing.models.audit import AuditPage

        after = _decoded(cursor) if cursor is not None else None
        if self.funders.get(funder_id) is None:
            raise FunderNotFound(funder_id)
        entries, last = self.log.page(funder_id, limit=min(max(limit, 1), MAX_PAGE_SIZE), after=after)
        return AuditPage(entries=entries, next_cursor=_encoded(last) if last is not None else None)


def _encoded(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _decoded(cursor: str) -> str:
    """The sort key a cursor names; a cursor this service did not give is a 422, not a scan from elsewhere."""
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        sort_key = ""
    if not _SORT_KEY.match(sort_key):
        raise ValidationFailed("The cursor is not one this API gave: start again without it.")
    return sort_key
