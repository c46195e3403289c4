"""`python -m local_stack` as a process, on the fixture template (moto server, emulator, API, signals)."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack import process as process_module
from local_stack.process import LocalStackProcess
from local_stack.process import free_port as real_free_port

pytestmark = pytest.mark.e2e

FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"


def _call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    process = LocalStackProcess(
        args=["--template", str(FIXTURE_TEMPLATE), "--skip-catalog"],
        env={"STRIPE_WEBHOOK_SECRET": "whsec_fixture", "LOCAL_PARAMETER_OVERRIDES": "Greeting=bonjour"},
    )
    with process:
        yield process


def test_prints_one_line_per_endpoint_then_ready(stack: LocalStackProcess) -> None:
    lines = stack.stdout_lines
    ready = lines.index("Ready. Ctrl-C to stop.")
    endpoints = [line for line in lines[:ready] if not line.startswith("catalog: ")]
    assert endpoints[:3] == [
        f"API         {stack.api_url}",
        f"AWS (moto)  {stack.aws_url}",
        f"Stripe      {stack.stripe_url} (emulator, demo customer cus_LocalDemoAcme)",
    ]
    assert all(line.startswith(("Webhooks", "SNS inbox")) for line in endpoints[3:-2])
    assert [line.split()[0] for line in endpoints[-2:]] == ["State", "Logs"]  # in memory; quiet or --verbose
    assert ready == len(lines) - 1


def test_routes_reach_functions_and_moto(stack: LocalStackProcess) -> None:
    status, _, body = _call(
        "PUT", f"{stack.api_url}/items/i1", b'{"title": "first"}', {"Content-Type": "application/json"}
    )
    assert (status, json.loads(body)) == (200, {"pk": "i1", "sk": "item", "title": "first"})
    status, _, body = _call("GET", f"{stack.api_url}/items/i1")
    assert (status, json.loads(body)["title"]) == (200, "first")

    # The same item, read straight from moto server: the handler's boto3 went there.
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    dynamodb = session.client("dynamodb", endpoint_url=stack.aws_url)
    item = dynamodb.get_item(TableName="local-ItemsTable", Key={"pk": {"S": "i1"}, "sk": {"S": "item"}})["Item"]
    assert item["title"] == {"S": "first"}
    queues = session.client("sqs", endpoint_url=stack.aws_url).list_queues()["QueueUrls"]
    assert any(url.endswith("/local-EventsQueue") for url in queues)


def test_echo_event_and_environment(stack: LocalStackProcess) -> None:
    status, headers, body = _call("POST", f"{stack.api_url}/echo/a/b?x=1&x=2", b"hi", {"X-Test": "yes"})
    assert status == 200
    assert headers.get("x-amzn-RequestId")
    echoed = json.loads(body)
    event, env = echoed["event"], echoed["env"]
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/echo/{proxy+}", "/echo/a/b", "POST")
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["headers"]["X-Test"] == "yes"
    assert event["body"] == "hi"
    assert event["requestContext"]["path"] == "/test/echo/a/b"
    assert event["requestContext"]["requestId"] == headers["x-amzn-RequestId"]
    assert env["GREETING"] == "bonjour"  # LOCAL_PARAMETER_OVERRIDES
    assert env["STRIPE_WEBHOOK_SECRET"] == "whsec_fixture"
    assert env["AWS_ENDPOINT_URL"] == stack.aws_url
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["ITEMS_TABLE"] == "local-ItemsTable"


def test_ssm_parameter_holds_no_key_without_the_template_parameter(stack: LocalStackProcess) -> None:
    # The fixture template declares no StripeApiKeyParameterName: nothing is stored.
    status, _, body = _call("POST", f"{stack.api_url}/public")
    assert (status, json.loads(body)) == (200, {"parameters": []})


def test_gateway_errors(stack: LocalStackProcess) -> None:
    status, headers, body = _call("GET", f"{stack.api_url}/nowhere")
    assert status == 403
    assert json.loads(body) == {"error": {"code": "gateway_rejected", "message": "Missing Authentication Token"}}
    assert headers.get("X-Gateway") == "local"
    status, _, body = _call("GET", f"{stack.api_url}/echo/x?mode=raise")
    assert (status, json.loads(body)["error"]["code"]) == (502, "gateway_error")
    assert any("boom on purpose" in line for line in stack.stderr_lines)
    status, _, body = _call("GET", f"{stack.api_url}/echo/x?mode=malformed")
    assert status == 502


def test_binary_and_multi_value_responses(stack: LocalStackProcess) -> None:
    status, headers, body = _call("GET", f"{stack.api_url}/echo/x?mode=binary", headers={"Accept": "image/png"})
    assert (status, headers["Content-Type"], body) == (200, "image/png", b"\x89PNG\x00\xff")
    request = urllib.request.Request(f"{stack.api_url}/echo/x?mode=multi")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        assert response.headers.get_all("Set-Cookie") == ["k1=v1", "k2=v2"]
        assert response.headers.get_all("X-One") == ["a", "c"]
        assert response.headers.get_all("X-Two") == ["b"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signals(sig: int) -> None:
    process = LocalStackProcess(args=["--template", str(FIXTURE_TEMPLATE), "--skip-catalog"]).start()
    started = time.monotonic()
    assert process.stop(sig) == 0, process.output
    assert time.monotonic() - started < 10
    assert "Traceback" not in process.output


def test_busy_port_is_a_clear_error() -> None:
    with LocalStackProcess(args=["--template", str(FIXTURE_TEMPLATE), "--skip-catalog"]) as first:
        second = LocalStackProcess(
            args=["--template", str(FIXTURE_TEMPLATE), "--skip-catalog"], env={"LOCAL_AWS_PORT": str(first.aws_port)}
        )
        with pytest.raises(RuntimeError, match="exited with 1") as raised:
            second.start()
        assert "LOCAL_AWS_PORT" in str(raised.value)


def test_live_keys_are_refused() -> None:
    process = LocalStackProcess(args=["--template", str(FIXTURE_TEMPLATE)], env={"STRIPE_API_KEY": "sk_live_x"})
    with pytest.raises(RuntimeError, match="LIVE key"):
        process.start()


def test_a_port_taken_after_it_was_chosen_is_chosen_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between our probe and the child's bind, another process may take the port (an outgoing connection of
    any process uses the same range): the stack starts again on new ports instead of failing the test run."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as occupied:
        occupied.bind(("127.0.0.1", 0))
        occupied.listen()
        taken = occupied.getsockname()[1]
        chosen = iter([taken])
        monkeypatch.setattr(process_module, "free_port", lambda: next(chosen, None) or real_free_port())
        with LocalStackProcess(args=["--template", str(FIXTURE_TEMPLATE), "--skip-catalog"]) as stack:
            assert taken not in (stack.api_port, stack.aws_port, stack.stripe_port)
            assert _call("GET", f"{stack.aws_url}/moto-api/")[0] == 200
