"""Runs template functions in this process the way one Lambda instance per function would.

What an invocation looks like to the handler, as on Lambda:

- the event and the result cross a JSON boundary (a handler returning a `Decimal` fails like on Lambda with
  `Runtime.MarshalError`);
- `os.environ` holds the function's template environment plus the variables the Lambda runtime sets
  (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_REGION`, `_HANDLER`, ...) and `AWS_SAM_LOCAL=true` (as `sam local` sets:
  Powertools Tracer then stays off instead of looking for an X-Ray daemon);
- a `LambdaContext` with the function's name, ARN, memory and a deadline from its `Timeout`;
- one invocation at a time (`os.environ` is process-wide, so one lock serves every function; the running stack
  runs concurrent invocations in worker processes instead, one per function instance: `local_stack.instances`);
- each function has its own copies of the modules imported from its code directory and its layers (its own
  "container"): module-level caches, clients and settings read at import time do not leak between functions.
  Third-party packages (boto3, stripe, Powertools) are shared;
- its code directory, then its layers, come first on `sys.path` while it runs (Lambda's task root, /opt/python);
- when a file under its code directory or layers changes, the next invocation is a cold start (new modules),
  so edits show up without restarting the stack, as with `sam local`.

Not modelled: the timeout is not enforced while the handler runs (it cannot be interrupted in-process); an
invocation that overran is reported as `FunctionTimeout` afterwards, as Lambda would have killed it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_stack.template.document import Template
from local_stack.template.functions import (
    Handler,
    function_environment,
    function_ids,
    function_name,
    function_properties,
    handler_location,
    layer_directories,
    load_handler,
)
from local_stack.template.intrinsics import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, resolver_for

LOG = logging.getLogger(__name__)


class LambdaContext:
    """The context object Lambda's Python runtime passes to handlers (the attributes Powertools reads)."""

    def __init__(
        self,
        *,
        function_name: str,
        memory_limit_in_mb: int,
        timeout_seconds: float,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        aws_request_id: str | None = None,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        # The Python runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string there too.
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        day = time.strftime("%Y/%m/%d", time.gmtime())
        self.log_stream_name = f"{day}/[{function_version}]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionNotFound(KeyError):
    pass


class FunctionError(Exception):
    """The invocation failed as Lambda would report it (`errorType`, `errorMessage`)."""

    def __init__(self, logical_id: str, request_id: str, error_type: str, message: str) -> None:
        super().__init__(f"{logical_id} ({request_id}): {error_type}: {message}")
        self.logical_id = logical_id
        self.request_id = request_id
        self.error_type = error_type
        self.error_message = message


class FunctionTimeout(FunctionError):
    pass


class FunctionThrottled(FunctionError):
    """Every instance the function may have is busy: Lambda refuses the invocation (429 TooManyRequests)."""


@dataclass(frozen=True)
class Invocation:
    result: Any
    request_id: str
    duration_ms: float


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    layer_dirs: list[Path]
    memory_mb: int
    timeout_seconds: float
    runtime: str
    environment: dict[str, str]

    def importable_names(self) -> frozenset[str]:
        """Top-level module names its code directory and layers provide (they shadow the host's)."""
        names: set[str] = set()
        for directory in (self.code_dir, *self.layer_dirs):
            if directory.is_dir():
                for entry in directory.iterdir():
                    if entry.suffix == ".py":
                        names.add(entry.stem)
                    elif entry.is_dir() and entry.name.isidentifier():
                        names.add(entry.name)
        return frozenset(names)


@dataclass
class _Instance:
    """One warm "container": the loaded handler and the modules it imported."""

    handler: Handler
    modules: dict[str, ModuleType] = field(default_factory=dict)
    code_stamp: float = 0.0


_REAL_PATHS: dict[str, str] = {}


def _real_path(location: str) -> str:
    real = _REAL_PATHS.get(location)
    if real is None:
        real = _REAL_PATHS[location] = os.path.realpath(location)
    return real


def _is_under(module: ModuleType, roots: tuple[str, ...]) -> bool:
    """Whether the module was loaded from one of `roots` (real paths ending with a separator)."""
    locations = [getattr(module, "__file__", None), *list(getattr(module, "__path__", None) or [])]
    return any(isinstance(loc, str) and _real_path(loc).startswith(roots) for loc in locations)


def _code_stamp(directories: list[Path]) -> float:
    newest = 0.0
    for directory in directories:
        for path in directory.rglob("*.py"):
            try:
                newest = max(newest, path.stat().st_mtime)
            except OSError:
                continue
    return newest


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Apply `variables` to os.environ; restore exactly the keys touched (other threads keep reading it)."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LambdaRunner:
    """Invokes the template's Python functions in this process, one invocation at a time."""

    def __init__(
        self,
        template: Template,
        project_root: str | Path,
        resources: Mapping[str, str],
        parameter_overrides: Mapping[str, Any] | None = None,
        *,
        extra_environment: Mapping[str, str] | None = None,
        region: str | None = None,
        account_id: str | None = None,
        stack_name: str | None = None,
        reload_on_change: bool = True,
    ) -> None:
        self.template = template
        self.project_root = Path(project_root).resolve()
        self.region = region or getattr(resources, "region", None) or DEFAULT_REGION
        self.account_id = account_id or getattr(resources, "account_id", None) or DEFAULT_ACCOUNT_ID
        self.stack_name = stack_name or getattr(resources, "stack_name", None) or "local"
        self.reload_on_change = reload_on_change
        self._lock = threading.Lock()
        self._instances: dict[str, _Instance] = {}
        self.functions: dict[str, FunctionSpec] = {}
        enabled = resolver_for(template, resources, parameter_overrides).resource_enabled
        for logical_id in function_ids(template):
            if not enabled(logical_id):  # its Condition is false: not deployed
                continue
            properties = function_properties(template, logical_id)
            if not str(properties.get("Runtime", "")).startswith("python"):
                LOG.info("%s: runtime %s is not run locally", logical_id, properties.get("Runtime"))
                continue
            environment = dict(extra_environment or {})
            environment.update(
                function_environment(
                    template,
                    logical_id,
                    resources,
                    parameter_overrides,
                    region=self.region,
                    account_id=self.account_id,
                    stack_name=self.stack_name,
                )
            )
            self.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=function_name(template, logical_id, self.stack_name),
                handler=str(properties.get("Handler")),
                code_dir=handler_location(template, logical_id, self.project_root).code_dir,
                layer_dirs=layer_directories(template, logical_id, self.project_root),
                memory_mb=int(properties.get("MemorySize", 128)),
                timeout_seconds=float(properties.get("Timeout", 3)),
                runtime=str(properties.get("Runtime")),
                environment=environment,
            )
        roots = {spec.code_dir for spec in self.functions.values()}
        roots.update(d for spec in self.functions.values() for d in spec.layer_dirs)
        # Modules loaded from these directories belong to one function's instance at a time.
        self._private_roots = tuple(sorted(os.path.realpath(root) + os.sep for root in roots))
        # Whether a module is private, decided once per module (sys.modules is walked twice per invocation).
        self._private_modules: weakref.WeakKeyDictionary[ModuleType, bool] = weakref.WeakKeyDictionary()

    # -- environment
    def runtime_environment(self, spec: FunctionSpec, context: LambdaContext) -> dict[str, str]:
        """The variables the Lambda runtime sets, then the template's (extra ones first, template wins)."""
        environment = {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": context.function_version,
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_SAM_LOCAL": "true",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
        }
        environment.update(spec.environment)
        return environment

    # -- module namespaces
    def _take_private_modules(self, shadowed: frozenset[str] = frozenset()) -> dict[str, ModuleType]:
        """Remove (and answer) the modules loaded from function code or layers, and those named `shadowed`."""
        taken = {
            name: module
            for name, module in list(sys.modules.items())
            if module is not None and (name.partition(".")[0] in shadowed or self._is_private(module))
        }
        for name in taken:
            del sys.modules[name]
        return taken

    def _is_private(self, module: ModuleType) -> bool:
        try:
            private = self._private_modules.get(module)
            if private is None:
                private = self._private_modules[module] = _is_under(module, self._private_roots)
        except TypeError:  # not a module: some packages put other objects in sys.modules
            return _is_under(module, self._private_roots)
        return private

    @contextmanager
    def _namespace(self, spec: FunctionSpec) -> Iterator[dict[str, ModuleType]]:
        host_modules = self._take_private_modules(spec.importable_names())
        instance = self._instances.get(spec.logical_id)
        if instance is not None:
            sys.modules.update(instance.modules)
        # Lambda's order: the task root, then the layers (/opt/python), then the runtime's packages.
        front = [str(spec.code_dir), *(str(d) for d in spec.layer_dirs)]
        sys.path[0:0] = front
        loaded: dict[str, ModuleType] = {}
        try:
            yield loaded
        finally:
            for entry in front:
                sys.path.remove(entry)
            loaded.update(self._take_private_modules())
            sys.modules.update(host_modules)

    def _warm_instance(self, spec: FunctionSpec) -> _Instance | None:
        instance = self._instances.get(spec.logical_id)
        if instance is None or not self.reload_on_change:
            return instance
        if _code_stamp([spec.code_dir, *spec.layer_dirs]) != instance.code_stamp:
            LOG.info("%s: code changed, cold start", spec.logical_id)
            del self._instances[spec.logical_id]
            return None
        return instance

    # -- invocation
    def invoke(self, logical_id: str, event: Any, *, request_id: str | None = None) -> Invocation:
        spec = self.functions.get(logical_id)
        if spec is None:
            raise FunctionNotFound(logical_id)
        request_id = request_id or str(uuid.uuid4())
        payload = json.loads(json.dumps(event))
        with self._lock:
            instance = self._warm_instance(spec)
            context = LambdaContext(
                function_name=spec.name,
                memory_limit_in_mb=spec.memory_mb,
                timeout_seconds=spec.timeout_seconds,
                region=self.region,
                account_id=self.account_id,
                aws_request_id=request_id,
            )
            started = time.monotonic()
            failure: FunctionError | None = None
            result: Any = None
            with _environment(self.runtime_environment(spec, context)), self._namespace(spec) as modules:
                try:
                    if instance is None:
                        stamp = _code_stamp([spec.code_dir, *spec.layer_dirs]) if self.reload_on_change else 0.0
                        instance = _Instance(
                            load_handler(self.template, logical_id, self.project_root), code_stamp=stamp
                        )
                        self._instances[logical_id] = instance
                    result = instance.handler(payload, context)
                except (Exception, SystemExit) as error:  # reported like Lambda does
                    failure = self._report(spec, request_id, error)
            if instance is not None:
                instance.modules = modules
        duration = (time.monotonic() - started) * 1000
        if failure is not None:
            raise failure
        if duration > spec.timeout_seconds * 1000:
            message = f"Task timed out after {spec.timeout_seconds:.2f} seconds"
            LOG.error("%s %s: %s", spec.logical_id, request_id, message)
            raise FunctionTimeout(logical_id, request_id, "Sandbox.Timedout", message)
        try:
            result = json.loads(json.dumps(result))
        except (TypeError, ValueError) as error:
            message = f"Unable to marshal response: {error}"
            LOG.error("%s %s: [ERROR] Runtime.MarshalError: %s", spec.logical_id, request_id, message)
            raise FunctionError(logical_id, request_id, "Runtime.MarshalError", message) from error
        return Invocation(result, request_id, duration)

    def _report(self, spec: FunctionSpec, request_id: str, error: BaseException) -> FunctionError:
        # Start the traceback below `invoke`, at the handler, like Lambda's runtime shows it.
        frames = error.__traceback__.tb_next if error.__traceback__ is not None else None
        trace = "".join(traceback.format_exception(type(error), error, frames or error.__traceback__))
        LOG.error("%s %s: [ERROR] %s: %s\n%s", spec.logical_id, request_id, type(error).__name__, error, trace)
        return FunctionError(spec.logical_id, request_id, type(error).__name__, str(error))
