"""Fault injection: make the next N matching requests fail or hang.

A fault matches on HTTP method (``None``: any) and path prefix, and is consumed one match at a time.
Its ``status`` is 429 (rate limited: answered before the idempotency layer and never saved, as Stripe's
rate limiter runs first) or 5xx (an endpoint that started and failed: saved for idempotent replay by
default, as Stripe saves its real 500s). With ``hang_seconds`` the request first sleeps, then answers
with the status, or normally when there is no status (``None`` or 200).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any

ALLOWED_STATUSES = frozenset({429, 500, 502, 503, 504})
NORMAL_ANSWER = 200  # accepted as "no error status": hang, then answer normally
RATE_LIMIT_CODES = frozenset({"rate_limit", "lock_timeout"})


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    id: int
    path_prefix: str
    method: str | None
    status: int | None
    count: int
    hang_seconds: float
    should_retry: bool | None
    error_code: str | None
    idempotent_replay: bool | None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.path_prefix)

    @property
    def rate_limited(self) -> bool:
        return self.status == 429

    @property
    def saved(self) -> bool:
        """Whether a 5xx answer is kept under the request's idempotency key."""
        return self.idempotent_replay if self.idempotent_replay is not None else not self.rate_limited

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _optional_bool(spec: dict[str, Any], name: str) -> bool | None:
    value = spec.get(name)
    if value is not None and not isinstance(value, bool):
        raise FaultSpecError(f"{name} must be true, false or null")
    return value


def parse_fault(spec: dict[str, Any], fault_id: int) -> Fault:
    known = {
        "path_prefix",
        "method",
        "status",
        "count",
        "hang_seconds",
        "should_retry",
        "error_code",
        "idempotent_replay",
    }
    unknown = set(spec) - known
    if unknown:
        raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
    path_prefix = spec.get("path_prefix", "/")
    if not isinstance(path_prefix, str) or not path_prefix.startswith("/"):
        raise FaultSpecError("path_prefix must be a path starting with '/'")
    method = spec.get("method")
    if method is not None and (not isinstance(method, str) or not method):
        raise FaultSpecError("method must be an HTTP method or null")
    status = spec.get("status")
    if status == NORMAL_ANSWER:
        status = None
    if status is not None and status not in ALLOWED_STATUSES:
        raise FaultSpecError(f"status must be one of {sorted(ALLOWED_STATUSES)}, or 200/null for a normal answer")
    count = spec.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultSpecError("count must be a positive integer")
    hang = spec.get("hang_seconds", 0)
    if not isinstance(hang, int | float) or isinstance(hang, bool) or hang < 0:
        raise FaultSpecError("hang_seconds must be a non-negative number")
    if status is None and hang == 0:
        raise FaultSpecError("a fault needs a status, a hang_seconds, or both")
    error_code = spec.get("error_code")
    if error_code is not None and (status != 429 or error_code not in RATE_LIMIT_CODES):
        raise FaultSpecError(f"error_code is one of {sorted(RATE_LIMIT_CODES)}, with status 429")
    return Fault(
        id=fault_id,
        path_prefix=path_prefix,
        method=method.upper() if method else None,
        status=status,
        count=count,
        hang_seconds=float(hang),
        should_retry=_optional_bool(spec, "should_retry"),
        error_code=error_code,
        idempotent_replay=_optional_bool(spec, "idempotent_replay"),
    )


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> Fault:
        with self._lock:
            fault = parse_fault(spec, next(self._ids))
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json() for fault in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching this request."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
            return None
