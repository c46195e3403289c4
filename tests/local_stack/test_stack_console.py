"""`python -m local_stack` on the project's template: quiet by default, the handlers' JSON with LOCAL_VERBOSE=1
(issue 13 §4: ~1,300 lines in 7 minutes before, a metrics line on every invocation and JSON for every request)."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from local_stack.process import LocalStackProcess

pytestmark = pytest.mark.e2e

REQUEST_LINE = re.compile(r"^\d\d:\d\d:\d\d (PUT|GET) /funders/f1 200 \d+ ms FundersFunction$")


def _two_requests(stack: LocalStackProcess) -> None:
    body = json.dumps({"name": "Acme"}).encode()
    for method, data in (("PUT", body), ("GET", None)):
        request = urllib.request.Request(f"{stack.api_url}/funders/f1", data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


def _wait_for(stack: LocalStackProcess, text: str, seconds: float = 10.0) -> None:
    """The request line is written just after the answer is sent."""
    deadline = time.monotonic() + seconds
    while not any(text in line for line in stack.stderr_lines) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_quiet_by_default_one_readable_line_per_request() -> None:
    with LocalStackProcess(args=["--skip-catalog"], env={"LOCAL_VERBOSE": ""}) as stack:
        _two_requests(stack)
        _wait_for(stack, "GET /funders/f1 200")
    output = stack.stdout_lines + stack.stderr_lines

    assert [line for line in stack.stderr_lines if "/funders/f1" in line] == [
        line for line in stack.stderr_lines if REQUEST_LINE.match(line)
    ]
    assert [line.split()[1] for line in stack.stderr_lines if REQUEST_LINE.match(line)] == ["PUT", "GET"]
    assert [line for line in output if line.lstrip().startswith("{")] == []  # no handler JSON, no metrics
    assert "Logs        one line per request; handler logs and metrics with --verbose or LOCAL_VERBOSE=1" in output
    assert "State       in memory only (moto, the Stripe emulator): lost when the stack stops" in output


def test_verbose_shows_the_handlers_json_logs_and_metrics() -> None:
    with LocalStackProcess(args=["--skip-catalog"], env={"LOCAL_VERBOSE": "1"}) as stack:
        _two_requests(stack)
        _wait_for(stack, "GET /funders/f1 200")
    handler_json = [json.loads(line) for line in stack.stdout_lines if line.startswith("{")]

    # Powertools' metrics of the PUT (embedded metric format), as Lambda would send them to CloudWatch.
    assert any("_aws" in record and "FunderUpserted" in record for record in handler_json)
    assert any(
        re.search(r" INFO local_stack\.api: PUT /funders/f1 200 \d+ ms FundersFunction$", line)
        for line in stack.stderr_lines
    )
    assert any("FundersFunction: new instance" in line for line in stack.stderr_lines)
    assert "Logs        handler logs and metrics shown (verbose)" in stack.stdout_lines
