"""The Lambda invocation being served: its id (for per-attempt Stripe idempotency keys) and its deadline.

Lambda serves one event at a time per container, so the current invocation is module state, set by each
handler (`begin`) from its context. Outside Lambda (the catalog CLI, tests without a context) an invocation
has a fresh random id and no deadline.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol


class HasRemainingTime(Protocol):
    @property
    def aws_request_id(self) -> str: ...
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Invocation:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline: float | None = None  # time.monotonic() by which the handler must have answered

    def seconds_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


_current = Invocation()


def begin(context: HasRemainingTime | None) -> Invocation:
    """Start serving an event: every Stripe call from now on works within this invocation's time."""
    global _current  # noqa: PLW0603 - one invocation at a time per container
    if context is None:
        _current = Invocation()
    else:
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
        _current = Invocation(request_id=context.aws_request_id, deadline=deadline)
    return _current


def current() -> Invocation:
    return _current
