"""Background workers: the extension point for event sources moto does not run itself.

moto runs no event source mappings, schedules or subscriptions to Lambda: the local stack plays them. A worker
is anything with `name`, `start()` and `stop()`; the stack starts its workers once the AWS resources, Stripe
and the API are up, and stops them first on shutdown.

To add one (e.g. a DynamoDB stream poller invoking the usage reporter, an SQS poller, a schedule), write a
factory `(StackContext) -> Iterable[Worker]` (typically reading the functions' `Events` from
`context.template` and invoking them with `context.runner.invoke(logical_id, event)`) and append it to
`local_stack.stack.WORKER_FACTORIES`. `PollingWorker` covers the common "poll, invoke, repeat" loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

LOG = logging.getLogger(__name__)


class Worker(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class PollingWorker:
    """Calls `poll_once()` in a daemon thread until stopped.

    `poll_once` answers whether it found work: if so it is called again at once, else after `interval`
    seconds. An exception is logged with its traceback and the loop goes on after `interval` (a poller must
    survive a failing handler; the failure handling itself, retries and dead-letter queues, is the poller's).
    """

    def __init__(self, name: str, poll_once: Callable[[], bool], *, interval: float = 1.0) -> None:
        self.name = name
        self._poll_once = poll_once
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"worker-{self.name}", daemon=True)
        self._thread.start()

    def stop_soon(self) -> None:
        """Stop after the current round, without waiting (the stack then cuts that round short)."""
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.warning("worker %s did not stop within %.0f s", self.name, timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self._poll_once()
            except Exception:
                if self._stopping.is_set():
                    return  # a round cut short by the stack stopping
                LOG.exception("worker %s failed", self.name)
                busy = False
            if not busy:
                self._stopping.wait(self._interval)
