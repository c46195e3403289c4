"""Function instances in worker processes: the running stack invokes functions concurrently, as Lambda does.

`InstancePoolRunner` is a `LambdaRunner` whose invocations run in worker processes, one per function instance
(Lambda's execution environment):

- an invocation takes an idle instance of its function (a warm start) or starts a new one (a cold start), up
  to the function's cap: its `ReservedConcurrentExecutions` when the template sets one, else
  `default_concurrency`. Overlapping invocations of one function each get their own instance, so module-level
  state is per instance, and a slow invocation holds nothing but its own instance;
- beyond the cap Lambda throttles. A synchronous caller (the API: `synchronous()`) gets `FunctionThrottled`
  at once, which API Gateway answers with 500 "Internal server error". Event sources (the queue, stream and
  schedule workers) wait for an instance instead: Lambda's pollers and its asynchronous queue retry throttled
  invocations until one runs;
- a worker process runs the in-process `LambdaRunner` for its invocations, so what the runtime promises holds
  there unchanged (JSON boundary, environment, context deadline, cold start on code change, error reporting);
- it starts with the stack's environment (moto server's endpoint in `AWS_ENDPOINT_URL`, fake credentials, no
  developer AWS config), so the handlers' boto3 reaches the stack's AWS side;
- the function's `Timeout` is enforced: an instance still busy at the deadline is killed, as Lambda does, and
  the invocation fails with `FunctionTimeout`.

Worker processes come from multiprocessing's fork server (never a fork of the threaded stack), which imports
the heavy third-party packages once (`PRELOADED_MODULES`) so that cold starts stay short.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from local_stack.console import configure_logging, quiet_function_output
from local_stack.lambda_runtime import (
    FunctionError,
    FunctionNotFound,
    FunctionThrottled,
    FunctionTimeout,
    Invocation,
    LambdaRunner,
)
from local_stack.template.document import Template
from local_stack.template.functions import function_reserved_concurrency

LOG = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4  # per function without ReservedConcurrentExecutions (the account's pool, locally)
# Imported once by the fork server, so that each instance's cold start imports only its own code. Third-party
# modules only (never function or layer code, which each instance loads itself); a missing one is skipped.
PRELOADED_MODULES = (
    "boto3",
    "boto3.dynamodb.conditions",
    "botocore.session",
    "stripe",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.typing",
    "local_stack.instance_warmup",  # boto3's service models, in the session handlers use
)
STOP_GRACE_SECONDS = 2.0


@dataclass(eq=False)  # compared and hashed by identity: instances are kept in sets
class _Instance:
    """One worker process serving one function, and the parent's end of its pipe."""

    process: BaseProcess
    connection: Connection

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # already closed: the process died
            self.connection.send(None)
        self.process.join(STOP_GRACE_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(STOP_GRACE_SECONDS)
        self.connection.close()


class _FunctionInstances:
    """One function's instances: idle ones are reused, at most `cap` exist at once."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.idle: list[_Instance] = []
        self.busy: set[_Instance] = set()
        self.starting = 0
        self.closed = False
        self._condition = threading.Condition()

    def take(self, *, wait: bool) -> _Instance | None:
        """An idle instance, or None with a slot reserved for a new one; throttled (or waits) at the cap."""
        with self._condition:
            while True:
                if self.closed:
                    raise _Closed
                if self.idle:
                    instance = self.idle.pop()
                    self.busy.add(instance)
                    return instance
                if len(self.busy) + self.starting < self.cap:
                    self.starting += 1
                    return None
                if not wait or self.cap == 0:
                    raise _AtCapacity
                self._condition.wait()

    def started(self, instance: _Instance | None) -> None:
        """The reserved slot now holds `instance` (None: it failed to start); `_Closed` if the stack stopped."""
        with self._condition:
            self.starting -= 1
            self._condition.notify()
            if instance is not None and not self.closed:
                self.busy.add(instance)
        if instance is not None and self.closed:
            instance.process.kill()
            instance.stop()
            raise _Closed

    def give_back(self, instance: _Instance, *, reusable: bool) -> None:
        with self._condition:
            self.busy.discard(instance)
            if reusable and not self.closed:
                self.idle.append(instance)
            self._condition.notify()

    def close(self) -> tuple[list[_Instance], list[_Instance]]:
        """No more invocations; answers the (idle, busy) instances."""
        with self._condition:
            self.closed = True
            idle, busy = self.idle, list(self.busy)
            self.idle, self.busy = [], set()
            self._condition.notify_all()
            return idle, busy


class _AtCapacity(Exception):
    pass


class _Closed(Exception):
    pass


class StackStopping(FunctionError):
    """The invocation was cut short (or refused) because the stack is stopping."""


def _serve(
    runner_arguments: dict[str, Any], environment: dict[str, str], connection: Connection, verbose: bool
) -> None:
    """A worker process: invoke what the parent sends, answer outcomes, until told to stop (None) or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the stack stops us
    os.environ.clear()
    os.environ.update(environment)
    configure_logging(verbose)  # as `python -m local_stack`
    if not verbose:
        quiet_function_output()
    runner = LambdaRunner(**runner_arguments)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        logical_id, payload, request_id = message
        reply: tuple[Any, ...]
        try:
            invocation = runner.invoke(logical_id, json.loads(payload), request_id=request_id)
            reply = ("result", json.dumps(invocation.result), invocation.duration_ms)
        except FunctionTimeout as error:
            reply = ("timeout", error.error_type, error.error_message)
        except FunctionError as error:
            reply = ("error", error.error_type, error.error_message)
        connection.send(reply)


class InstancePoolRunner(LambdaRunner):
    """Invokes the template's functions in worker processes, concurrently, one process per function instance."""

    def __init__(
        self,
        template: Template,
        project_root: str | Path,
        resources: Mapping[str, str],
        parameter_overrides: Mapping[str, Any] | None = None,
        *,
        default_concurrency: int = DEFAULT_CONCURRENCY,
        verbose: bool = True,
        **options: Any,
    ) -> None:
        """`options` are `LambdaRunner`'s (extra_environment, region, ...). Not `verbose`: the handlers' INFO logs
        and metrics are left out of the instances' output (`local_stack.console`)."""
        super().__init__(template, project_root, resources, parameter_overrides, **options)
        # What a worker process needs to build the same runner (plain data: it crosses a pipe).
        self._runner_arguments: dict[str, Any] = {
            "template": template,
            "project_root": self.project_root,
            "resources": resources,
            "parameter_overrides": dict(parameter_overrides or {}),
            **options,
        }
        self._verbose = verbose
        self._pools: dict[str, _FunctionInstances] = {}
        for logical_id in self.functions:
            reserved = function_reserved_concurrency(template, logical_id, resources, parameter_overrides)
            self._pools[logical_id] = _FunctionInstances(default_concurrency if reserved is None else max(0, reserved))
        self.waits_for_instances = True
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOADED_MODULES))

    def start(self) -> None:
        """Start the fork server now (a couple of seconds, with its preloads), not in the first request."""
        multiprocessing.forkserver.ensure_running()

    def synchronous(self) -> InstancePoolRunner:
        """The same instances for a synchronous caller (the API): throttled at the cap instead of waiting."""
        view = copy.copy(self)
        view.waits_for_instances = False
        return view

    def concurrency(self, logical_id: str) -> int:
        """How many instances of the function may run at once."""
        return self._pools[logical_id].cap

    def invoke(self, logical_id: str, event: Any, *, request_id: str | None = None) -> Invocation:
        spec = self.functions.get(logical_id)
        if spec is None:
            raise FunctionNotFound(logical_id)
        request_id = request_id or str(uuid.uuid4())
        payload = json.dumps(event)
        pool = self._pools[logical_id]
        try:
            instance = pool.take(wait=self.waits_for_instances) or self._start_instance(pool, logical_id)
        except _AtCapacity:
            message = f"Rate Exceeded: {logical_id} is running {pool.cap} instance(s), its concurrency limit"
            LOG.warning("%s %s: throttled (TooManyRequestsException): %s", logical_id, request_id, message)
            raise FunctionThrottled(logical_id, request_id, "TooManyRequestsException", message) from None
        except _Closed:
            raise StackStopping(logical_id, request_id, "Runtime.ExitError", "the local stack is stopping") from None
        reusable = False
        try:
            try:
                instance.connection.send((logical_id, payload, request_id))
                # The init phase counts too: Lambda has its own limit for it, locally one deadline covers both.
                if not instance.connection.poll(spec.timeout_seconds):
                    instance.process.kill()
                    message = f"Task timed out after {spec.timeout_seconds:.2f} seconds"
                    LOG.error("%s %s: %s", logical_id, request_id, message)
                    raise FunctionTimeout(logical_id, request_id, "Sandbox.Timedout", message)
                reply = instance.connection.recv()
            except (EOFError, OSError):  # the process died (before or during the invocation)
                if pool.closed:  # stopped with the stack, not a failure of the function
                    raise StackStopping(
                        logical_id, request_id, "Runtime.ExitError", "the local stack stopped"
                    ) from None
                instance.process.join(STOP_GRACE_SECONDS)
                message = (
                    f"RequestId: {request_id} Error: Runtime exited with error: exit code {instance.process.exitcode}"
                )
                LOG.error("%s %s: %s", logical_id, request_id, message)
                raise FunctionError(logical_id, request_id, "Runtime.ExitError", message) from None
            reusable = True
        finally:
            pool.give_back(instance, reusable=reusable)
            if not reusable:
                instance.stop()
        kind, *details = reply
        if kind == "timeout":
            raise FunctionTimeout(logical_id, request_id, details[0], details[1])
        if kind == "error":
            raise FunctionError(logical_id, request_id, details[0], details[1])
        return Invocation(json.loads(details[0]), request_id, details[1])

    def _start_instance(self, pool: _FunctionInstances, logical_id: str) -> _Instance:
        """A new instance in the slot `pool` reserved; `_Closed` if the stack stopped meanwhile."""
        instance: _Instance | None = None
        try:
            parent_end, child_end = self._context.Pipe()
            process = self._context.Process(
                target=_serve,
                args=(self._runner_arguments, dict(os.environ), child_end, self._verbose),
                name=f"{logical_id}-{uuid.uuid4().hex[:8]}",
                daemon=True,
            )
            process.start()
            child_end.close()
            instance = _Instance(process, parent_end)
            LOG.info("%s: new instance (pid %s)", logical_id, process.pid)
            return instance
        finally:
            pool.started(instance)

    def stop(self) -> None:
        """Stop every instance; busy ones are killed (their invocations fail with `StackStopping`)."""
        for pool in self._pools.values():
            idle, busy = pool.close()
            for instance in busy:
                instance.process.kill()
            for instance in idle + busy:
                instance.stop()
