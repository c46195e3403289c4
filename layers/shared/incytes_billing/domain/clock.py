"""The time services read: a function, so that tests can set it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class TimedService:
    """A domain service: its ports come first; by keyword, the clock it reads the time from (tests set it)."""

    _: KW_ONLY
    clock: Clock = utc_now
