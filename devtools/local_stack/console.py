"""What the local stack writes to the console: quiet by default, everything with `--verbose` (or LOCAL_VERBOSE=1).

Quiet: one line per API request (`12:00:01 PUT /funders/f1 200 41 ms FundersFunction`), and every warning and
error — the stack's own, and the handlers' log records at WARNING and above. The handlers' INFO/DEBUG records
and their metrics (a CloudWatch embedded-metric-format JSON line on every invocation) are left out; so are the
stack's routes, workers and cold starts.

Verbose: all of it, as Lambda would send it to CloudWatch, and the stack's debug details.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from collections.abc import Mapping
from typing import TextIO

VERBOSE_VARIABLE = "LOCAL_VERBOSE"
REQUEST_LOGGER = "local_stack.api"  # the request lines
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_TIME_FORMAT = "%H:%M:%S"
# Powertools' log records below WARNING: left out when quiet.
QUIET_LEVELS = frozenset({"DEBUG", "INFO"})
# Powertools warns once per instance when an invocation adds no metric: noise locally, where none are published.
NO_METRICS_WARNING = "No application metrics to publish"


def verbose_from_environment(environ: Mapping[str, str]) -> bool:
    return (environ.get(VERBOSE_VARIABLE) or "").strip().lower() in ("1", "true", "yes", "on")


class _QuietFormatter(logging.Formatter):
    """Information as `time message`; warnings and errors with their level and logger."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT, QUIET_TIME_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return super().format(record)
        return f"{self.formatTime(record, self.datefmt)} {record.getMessage()}"


def configure_logging(verbose: bool, stream: TextIO | None = None) -> None:
    """The stack's logging (the stack process and each function instance's process alike)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT) if verbose else _QuietFormatter())
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("local_stack").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger(REQUEST_LOGGER).setLevel(logging.DEBUG if verbose else logging.INFO)


def request_line(method: str, path: str, status: int, milliseconds: float, function: str | None) -> str:
    """One API request, readably: method, path, status, duration and the function that answered it."""
    return f"{method} {path} {status} {milliseconds:.0f} ms {function or '(API Gateway)'}"


def shown_quietly(line: str) -> bool:
    """Whether a line a handler wrote to stdout is kept when quiet: all but Powertools' INFO/DEBUG records and
    metrics. Anything that is not a JSON object (a print, a traceback) is kept."""
    text = line.strip()
    if not text.startswith("{"):
        return True
    try:
        record = json.loads(text)
    except ValueError:
        return True
    if not isinstance(record, dict):
        return True
    if "_aws" in record:  # CloudWatch embedded metric format: a metrics flush
        return False
    return str(record.get("level", "")).upper() not in QUIET_LEVELS


class QuietOutput(io.TextIOBase):
    """A function instance's stdout when quiet: whole lines pass through `shown_quietly` to `target`."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self._target = target
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        kept = [line for line in lines if shown_quietly(line)]
        if kept:
            self._target.write("".join(f"{line}\n" for line in kept))
            self._target.flush()
        return len(text)

    def flush(self) -> None:
        self._target.flush()


def quiet_function_output() -> None:
    """In a function instance's process, before any handler is loaded (Powertools' Logger keeps the stdout it
    finds when it is created)."""
    sys.stdout = QuietOutput(sys.stdout)
    warnings.filterwarnings("ignore", message=NO_METRICS_WARNING)
