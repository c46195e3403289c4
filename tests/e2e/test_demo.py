"""End to end: `make demo` (`python -m demo`) plays the whole inCytes story on one local stack and proves it.

The demo starts the stack itself (one start), walks the eight steps over HTTP and exits 0 only when every step
showed what it should; this test fails when it does not, with the narrative and the stack's output.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.test_local_stack import PYTHONPATH
from tests.support import PROJECT_ROOT

pytestmark = pytest.mark.e2e
STEPS = 8


def test_make_demo_proves_every_step() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "STRIPE_API_KEY"} | {"PYTHONPATH": PYTHONPATH}
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = f"{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    assert [line.split(".")[0] for line in result.stdout.splitlines() if line[:1].isdigit()] == [
        str(number) for number in range(1, STEPS + 1)
    ], output
    assert f"All {STEPS} steps showed what they should" in result.stdout, output
