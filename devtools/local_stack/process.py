"""Run `python -m local_stack` as a child process on free ports (end-to-end tests, scripts).

    with LocalStackProcess() as stack:
        urllib.request.urlopen(f"{stack.api_url}/funders/f1")

The child gets free ports through LOCAL_API_PORT/LOCAL_AWS_PORT/STRIPE_EMULATOR_PORT, and no STRIPE_API_KEY
unless one is passed in `env`. `stop()` sends SIGTERM and answers the exit code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Ready. Ctrl-C to stop."
PORT_VARIABLES = {"LOCAL_API_PORT": "api_port", "LOCAL_AWS_PORT": "aws_port", "STRIPE_EMULATOR_PORT": "stripe_port"}
PORT_ATTEMPTS = 3


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LocalStackProcess:
    def __init__(
        self,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 90.0,
        cwd: Path = PROJECT_ROOT,
    ) -> None:
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.cwd = cwd
        child_env = {k: v for k, v in os.environ.items() if k != "STRIPE_API_KEY"}
        python_path = [str(PROJECT_ROOT / "layers" / "shared"), str(PROJECT_ROOT / "devtools"), str(PROJECT_ROOT)]
        child_env.update({"PYTHONPATH": os.pathsep.join(python_path), "PYTHONUNBUFFERED": "1"})
        self._given_env = dict(env or {})
        self.env = child_env
        self._choose_ports()
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._readers: list[threading.Thread] = []

    def _choose_ports(self) -> None:
        self.api_port, self.aws_port, self.stripe_port = free_port(), free_port(), free_port()
        self.env.update(
            {
                "LOCAL_API_PORT": str(self.api_port),
                "LOCAL_AWS_PORT": str(self.aws_port),
                "STRIPE_EMULATOR_PORT": str(self.stripe_port),
            }
        )
        self.env.update(self._given_env)
        for name, attribute in PORT_VARIABLES.items():
            setattr(self, attribute, int(self.env[name]))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def stripe_url(self) -> str:
        return f"http://127.0.0.1:{self.stripe_port}"

    @property
    def output(self) -> str:
        return "\n".join(["--- stdout", *self.stdout_lines, "--- stderr", *self.stderr_lines])

    def _read(self, stream: object, sink: list[str], watch_ready: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line.rstrip("\n"))
            if watch_ready and line.strip() == READY_LINE:
                self._ready.set()

    def start(self) -> LocalStackProcess:
        """Start the stack and wait for Ready. A free port can be taken between our probe and the child's bind
        (by any process's outgoing connection): then the child fails with EADDRINUSE and starts again on new
        ports, unless the caller chose them."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._start_once()
            except RuntimeError:
                taken = any("Address already in use" in line for line in self.stderr_lines)
                if not taken or attempt == PORT_ATTEMPTS or set(PORT_VARIABLES) & set(self._given_env):
                    raise
                self.stdout_lines.clear()
                self.stderr_lines.clear()
                self._readers.clear()
                self._ready.clear()
                self._choose_ports()
        raise AssertionError("unreachable")

    def _start_once(self) -> LocalStackProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_stack", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stream, sink, watch in (
            (self.process.stdout, self.stdout_lines, True),
            (self.process.stderr, self.stderr_lines, False),
        ):
            reader = threading.Thread(target=self._read, args=(stream, sink, watch), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None:
                self._join_readers()
                raise RuntimeError(f"local stack exited with {self.process.returncode} before Ready\n{self.output}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"local stack not Ready after {self.startup_timeout:.0f} s\n{self.output}")
        return self

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the stack and wait; answers its exit code (kills it after `timeout`)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        self._join_readers()
        return int(self.process.returncode)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> LocalStackProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.stop()
