"""The running stack serves requests concurrently, as API Gateway + Lambda do (issue 11 §2), on the fixture
template: each overlapping invocation of a function gets its own instance (worker process), up to the
function's ReservedConcurrentExecutions (EchoFunction: 2); beyond it Lambda throttles and API Gateway answers
500 (https://repost.aws/knowledge-center/api-gateway-internal-server-error)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_stack.instances import InstancePoolRunner
from local_stack.lambda_runtime import FunctionError, FunctionTimeout
from local_stack.process import LocalStackProcess
from local_stack.template.document import Template
from local_stack.template.functions import function_reserved_concurrency
from local_stack.template.intrinsics import StackResources

FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"
SLEEP_SECONDS = 1.5


def _get(url: str) -> tuple[int, Any, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - started


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    # --verbose: the instances' "new instance (pid …)" lines, which the tests count, are debug details.
    with LocalStackProcess(args=["--template", str(FIXTURE_TEMPLATE), "--skip-catalog", "--verbose"]) as process:
        yield process


def _sleep_url(stack: LocalStackProcess, seconds: float = SLEEP_SECONDS) -> str:
    return f"{stack.api_url}/echo/x?mode=sleep&seconds={seconds}"


@pytest.mark.e2e
def test_overlapping_requests_each_get_their_own_instance_and_other_functions_answer(
    stack: LocalStackProcess,
) -> None:
    _get(_sleep_url(stack, 0))  # warm one instance; the second overlapping request gets a cold one
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(_get, _sleep_url(stack)) for _ in range(2)]
        time.sleep(0.3)
        status, body, took = _get(f"{stack.api_url}/other")  # another function, meanwhile
        assert (status, body["function"]) == (200, "other")
        assert took < SLEEP_SECONDS, "a slow function held up another function's request"
        answers = [future.result() for future in slow]
    assert [status for status, _, _ in answers] == [200, 200]
    assert answers[0][1]["pid"] != answers[1][1]["pid"]  # two instances, not one taking turns
    assert max(took for _, _, took in answers) < 2 * SLEEP_SECONDS


@pytest.mark.e2e
def test_beyond_reserved_concurrency_the_request_is_throttled(stack: LocalStackProcess) -> None:
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(_get, _sleep_url(stack)) for _ in range(2)]
        time.sleep(0.5)  # both hold EchoFunction's two instances
        status, body, took = _get(_sleep_url(stack, 0))
        answers = [future.result() for future in slow]
    assert status == 500
    assert body == {"error": {"code": "gateway_error", "message": "Internal server error"}}
    assert took < SLEEP_SECONDS  # refused at once, not queued
    assert [status for status, _, _ in answers] == [200, 200]
    assert {body["pid"] for _, body, _ in answers} <= _instances_seen(stack)
    assert _get(_sleep_url(stack, 0))[0] == 200  # a freed instance serves again


def _resources() -> StackResources:
    """What the fixture functions' environment needs resolved (a stream ARN)."""
    resources = StackResources(stack_name="fx")
    resources.record("ItemsTable", "AWS::DynamoDB::Table", "fx-ItemsTable", StreamArn="arn:stream")
    return resources


def _instances_seen(stack: LocalStackProcess) -> set[int]:
    return {
        int(line.rsplit("pid ", 1)[1].rstrip(")"))
        for line in stack.stderr_lines
        if "EchoFunction: new instance (pid" in line
    }


def test_cap_is_reserved_concurrency_else_the_default(fixture_template: Template) -> None:
    resources = _resources()
    assert function_reserved_concurrency(fixture_template, "EchoFunction", resources) == 2
    assert function_reserved_concurrency(fixture_template, "OtherFunction", resources) is None
    runner = InstancePoolRunner(fixture_template, FIXTURE_TEMPLATE.parent, resources, default_concurrency=3)
    assert (runner.concurrency("EchoFunction"), runner.concurrency("OtherFunction")) == (2, 3)


def test_a_timeout_or_a_crash_ends_the_instance(fixture_template: Template) -> None:
    """Lambda stops an invocation at the function's Timeout, and reports a runtime that died as
    Runtime.ExitError; the next invocation gets a fresh instance."""
    fixture_template["Resources"]["EchoFunction"]["Properties"]["Timeout"] = 1
    runner = InstancePoolRunner(fixture_template, FIXTURE_TEMPLATE.parent, _resources())
    query = {"mode": "sleep", "seconds": "30"}
    event = {"resource": "/echo/{proxy+}", "queryStringParameters": query}
    try:
        started = time.monotonic()
        with pytest.raises(FunctionTimeout) as timed_out:
            runner.invoke("EchoFunction", event)
        assert time.monotonic() - started < 10
        assert timed_out.value.error_type == "Sandbox.Timedout"
        query["mode"] = "exit"
        with pytest.raises(FunctionError) as crashed:
            runner.invoke("EchoFunction", event)
        assert crashed.value.error_type == "Runtime.ExitError"
        assert "exit code 3" in crashed.value.error_message
        query.update(mode="sleep", seconds="0")
        assert runner.invoke("EchoFunction", event).result["statusCode"] == 200
    finally:
        runner.stop()
