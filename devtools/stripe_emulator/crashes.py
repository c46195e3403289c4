"""Internal errors: an exception the emulator did not mean to raise (a ``KeyError`` in a handler, a clock
rule that fails) is a bug in the emulator, and never silent.

The request it broke is answered 500 ``api_error`` (with ``Stripe-Should-Retry: false``: a retry meets the
same bug), logged in the request log with ``internal_error: true``, the exception and a short traceback,
and kept in the list of internal errors (``GET /_emulator/internal_errors``, ``StripeEmulator.
internal_errors()``) until the next reset, with those of controls and of the webhook delivery thread. The
test suite fails every test after which that list is not empty (tests/conftest.py). Injected faults
(:mod:`.faults`) are answers the test asked for, not internal errors.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

Source = Literal["api", "control", "webhook_delivery"]
TRACEBACK_FRAMES = 6  # the innermost frames: where it broke and what called it

logger = logging.getLogger("stripe_emulator")


def summary(error: BaseException) -> str:
    """``KeyError: 'next_invoice_sequence'``."""
    return f"{type(error).__name__}: {error}"


def short_traceback(error: BaseException) -> list[str]:
    """The innermost frames, innermost last: ``invoices.py:444 in finalize``."""
    frames = traceback.extract_tb(error.__traceback__)[-TRACEBACK_FRAMES:]
    return [f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}" for frame in frames]


@dataclass(frozen=True)
class InternalError:
    source: Source
    method: str | None
    path: str | None
    request_id: str | None
    time: float
    error: str
    traceback: list[str]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Entry(Protocol):
    def as_json(self) -> dict[str, Any]: ...


class EntryLog[E: Entry]:
    """A thread-safe log of entries, read as JSON, oldest first (the request log, the internal errors)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[E] = []

    def add(self, entry: E) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [entry.as_json() for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class InternalErrorLog(EntryLog[InternalError]):
    """Every internal error since the last reset (``clear``), oldest first; each is also logged with its
    full traceback on the ``stripe_emulator`` logger (the local stack's console, a standalone emulator's
    stderr)."""

    def report(
        self,
        error: BaseException,
        *,
        source: Source,
        time: float,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ) -> InternalError:
        entry = InternalError(source, method, path, request_id, time, summary(error), short_traceback(error))
        logger.error(
            "stripe emulator: internal error (%s %s %s)",
            source,
            method or "",
            path or "",
            exc_info=(type(error), error, error.__traceback__),
        )
        self.add(entry)
        return entry
