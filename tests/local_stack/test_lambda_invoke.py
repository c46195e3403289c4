"""local_stack.lambda_runtime: in-process invocations that behave like one Lambda instance per function."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from local_stack.apigw import ApiGateway
from local_stack.lambda_runtime import FunctionError, FunctionNotFound, LambdaContext, LambdaRunner
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.document import Template
from local_stack.template.intrinsics import StackResources

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _resources() -> StackResources:
    resources = StackResources(stack_name="fx")
    resources.record("ItemsTable", "AWS::DynamoDB::Table", "fx-ItemsTable", StreamArn="arn:stream")
    resources.record(
        "EventsQueue", "AWS::SQS::Queue", "https://sqs.us-east-1.amazonaws.com/123456789012/fx-EventsQueue"
    )
    resources.record(
        "NotificationsTopic", "AWS::SNS::Topic", "arn:aws:sns:us-east-1:123456789012:fx-NotificationsTopic"
    )
    return resources


@pytest.fixture
def runner(fixture_template: Template) -> LambdaRunner:
    return LambdaRunner(
        fixture_template, FIXTURES, _resources(), extra_environment={"STRIPE_WEBHOOK_SECRET": "whsec_t"}
    )


def _echo(runner: LambdaRunner, logical_id: str = "EchoFunction", **query: str) -> dict[str, Any]:
    event = {"resource": "/echo/{proxy+}", "httpMethod": "GET", "queryStringParameters": query or None}
    result = runner.invoke(logical_id, event).result
    return json.loads(result["body"])


def test_context_like_lambdas() -> None:
    context = LambdaContext(function_name="fn", memory_limit_in_mb=512, timeout_seconds=2, aws_request_id="r1")
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert context.memory_limit_in_mb == "512"
    assert context.aws_request_id == "r1"
    assert context.log_group_name == "/aws/lambda/fn"
    assert 1000 < context.get_remaining_time_in_millis() <= 2000


def test_environment_context_and_restoration(runner: LambdaRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARED_FLAG", "host-value")
    monkeypatch.delenv("ITEMS_TABLE", raising=False)
    body = _echo(runner)
    env = body["env"]
    assert env["ITEMS_TABLE"] == "fx-ItemsTable"
    assert env["SHARED_FLAG"] == "own"  # the function's own variable beats Globals
    assert env["STRIPE_WEBHOOK_SECRET"] == "whsec_t"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fx-EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURES / "echo")
    assert body["context"]["function_name"] == "fx-EchoFunction"
    assert body["context"]["memory_limit_in_mb"] == "1024"
    assert 0 < body["context"]["remaining"] <= 10_000  # Timeout: 10 from Globals
    # After the invocation the process environment is what it was.
    assert os.environ["SHARED_FLAG"] == "host-value"
    assert "ITEMS_TABLE" not in os.environ
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_each_function_has_its_own_modules(runner: LambdaRunner) -> None:
    host_view = {name: sys.modules.get(name) for name in ("fixture_shared", "helper")}
    first = _echo(runner)
    second = _echo(runner)
    other = json.loads(runner.invoke("OtherFunction", {}).result["body"])
    # Warm instance: module state survives between invocations of one function...
    assert (first["calls"], second["calls"]) == (1, 2)
    # ...but the other function (also app.py, same layer module, own helper.py) has its own copies.
    assert other == {"function": "other", "calls": 1, "flag": "global"}
    assert first["function"] == "echo"
    assert first["flag_at_import"] == "own"
    # Nothing of the functions leaks into the host's module table.
    assert {name: sys.modules.get(name) for name in host_view} == host_view
    assert str(FIXTURES / "echo") not in sys.path


def test_raising_handler_is_a_function_error(runner: LambdaRunner, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(FunctionError) as raised:
        _echo(runner, mode="raise")
    assert raised.value.error_type == "RuntimeError"
    assert "boom on purpose" in caplog.text
    assert "Traceback" in caplog.text


def test_unserialisable_result_is_a_marshal_error(runner: LambdaRunner) -> None:
    with pytest.raises(FunctionError) as raised:
        _echo(runner, mode="decimal")
    assert raised.value.error_type == "Runtime.MarshalError"


def test_unknown_function(runner: LambdaRunner) -> None:
    with pytest.raises(FunctionNotFound):
        runner.invoke("Nope", {})


def test_code_change_means_cold_start(tmp_path: Path, fixture_template: Template) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root)
    runner = LambdaRunner(fixture_template, root, _resources())
    assert json.loads(runner.invoke("OtherFunction", {}).result["body"])["function"] == "other"
    assert json.loads(runner.invoke("OtherFunction", {}).result["body"])["calls"] == 2
    helper = root / "other" / "helper.py"
    helper.write_text('NAME = "edited"\n')
    later = time.time() + 5
    os.utime(helper, (later, later))
    body = json.loads(runner.invoke("OtherFunction", {}).result["body"])
    assert (body["function"], body["calls"]) == ("edited", 1)


def test_against_moto_tables(aws_session: Any, fixture_template: Template) -> None:
    """The full path in-process: template resources under mock_aws, API event, handler, DynamoDB, response."""
    resources = create_aws_resources(fixture_template, session_or_clients=aws_session, prefix="fx")
    runner = LambdaRunner(fixture_template, FIXTURES, resources)
    gateway = ApiGateway.from_template(fixture_template, runner)
    put = gateway.handle("PUT", "/items/i1", {"Content-Type": "application/json"}, b'{"title": "t"}')
    assert (put.status, put.json()) == (200, {"pk": "i1", "sk": "item", "title": "t"})
    got = gateway.handle("GET", "/items/i1", {}, b"")
    assert (got.status, got.json()["title"]) == (200, "t")
    missing = gateway.handle("GET", "/items/i2", {}, b"")
    assert (missing.status, missing.json()["error"]["code"]) == (404, "item_not_found")
    # The fixture API's GatewayResponses shape the gateway's own errors.
    unknown = gateway.handle("GET", "/unknown", {}, b"")
    assert unknown.status == 403
    assert unknown.json() == {"error": {"code": "gateway_rejected", "message": "Missing Authentication Token"}}
    assert unknown.header("X-Gateway") == "local"
    failed = gateway.handle("GET", "/echo/x?mode=raise", {}, b"")
    assert (failed.status, failed.json()) == (
        502,
        {"error": {"code": "gateway_error", "message": "Internal server error"}},
    )
