"""local_stack.console: quiet by default (one line per request, warnings and errors), everything with --verbose."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.apigw import ApiGateway
from local_stack.console import (
    REQUEST_LOGGER,
    QuietOutput,
    configure_logging,
    request_line,
    shown_quietly,
    verbose_from_environment,
)
from local_stack.lambda_runtime import Invocation
from local_stack.server import LocalApiServer
from local_stack.template.api import ApiSettings, Route

PROJECT_ROOT = Path(__file__).resolve().parents[2]
METRICS_LINE = json.dumps(
    {
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "InCytesBilling", "Metrics": []}]},
        "FunderUpserted": [1.0],
    }
)


def handler_record(level: str, message: str = "event applied") -> str:
    return json.dumps({"level": level, "location": "apply_event:40", "message": message, "service": "billing"})


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (METRICS_LINE, False),
        (handler_record("INFO"), False),
        (handler_record("DEBUG"), False),
        (handler_record("WARNING"), True),
        (handler_record("ERROR"), True),
        ("print from a handler", True),
        ('Traceback (most recent call last):  File "app.py"', True),
        ("{not json", True),
        ("[1, 2]", True),
        ("", True),
    ],
)
def test_quiet_keeps_all_but_info_records_and_metrics(line: str, shown: bool) -> None:
    assert shown_quietly(line) is shown


def test_quiet_output_filters_whole_lines_written_in_pieces() -> None:
    target = io.StringIO()
    output = QuietOutput(target)
    print(METRICS_LINE, file=output)
    output.write(handler_record("WARNING", "kept")[:20])  # a line in pieces is judged once whole
    output.write(handler_record("WARNING", "kept")[20:] + "\n" + handler_record("INFO") + "\nplain")
    assert target.getvalue() == handler_record("WARNING", "kept") + "\n"
    output.write(" text\n")
    assert target.getvalue().splitlines()[-1] == "plain text"


@pytest.mark.parametrize(("value", "verbose"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_local_verbose_variable(value: str, verbose: bool) -> None:
    assert verbose_from_environment({"LOCAL_VERBOSE": value}) is verbose
    assert verbose_from_environment({}) is False


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("local_stack", REQUEST_LOGGER)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, previous in levels.items():
        logging.getLogger(name).setLevel(previous)


def _log_samples(verbose: bool) -> str:
    stream = io.StringIO()
    configure_logging(verbose, stream)
    logging.getLogger(REQUEST_LOGGER).info("%s", request_line("PUT", "/funders/f1", 200, 41.2, "FundersFunction"))
    logging.getLogger("local_stack.instances").info("FundersFunction: new instance (pid 1)")
    logging.getLogger("local_stack.lambda_runtime").error("UsageFunction req: [ERROR] boom")
    return stream.getvalue()


def test_quiet_console_is_one_readable_line_per_request_and_the_errors(restored_logging: None) -> None:
    lines = _log_samples(verbose=False).splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d PUT /funders/f1 200 41 ms FundersFunction", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d ERROR local_stack.lambda_runtime: UsageFunction req: \[ERROR\] boom", lines[1])


def test_verbose_console_has_the_details_too(restored_logging: None) -> None:
    text = _log_samples(verbose=True)
    assert "INFO local_stack.api: PUT /funders/f1 200 41 ms FundersFunction" in text
    assert "INFO local_stack.instances: FundersFunction: new instance (pid 1)" in text
    assert "ERROR local_stack.lambda_runtime" in text


class _AnsweringRunner:
    account_id = "123456789012"

    def invoke(self, logical_id: str, event: dict[str, Any], *, request_id: str | None = None) -> Invocation:
        return Invocation({"statusCode": 201, "body": "{}"}, "req", 1.0)


def _status(url: str, method: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_api_server_logs_method_path_status_time_and_function(caplog: pytest.LogCaptureFixture) -> None:
    routes = [Route("POST", "/funders/{funder_id}/usage", "UsageFunction", "AWS_IAM", "Api")]
    gateway = ApiGateway(routes, _AnsweringRunner(), {"Api": ApiSettings("Api", "abc", "dev")})  # type: ignore[arg-type]
    server = LocalApiServer(gateway, port=0)
    server.start()
    try:
        with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
            assert _status(f"{server.url}/funders/f1/usage?x=1", "POST") == 201
            assert _status(f"{server.url}/nowhere", "GET") == 403
    finally:
        server.stop()
    messages = [record.getMessage() for record in caplog.records if record.name == REQUEST_LOGGER]
    assert [re.sub(r" \d+ ms ", " N ms ", message) for message in messages] == [
        "POST /funders/f1/usage?x=1 201 N ms UsageFunction",
        "GET /nowhere 403 N ms (API Gateway)",
    ]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_local_passes_args_to_the_stack() -> None:
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "local", "ARGS=--verbose"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines()[-1].endswith("-m local_stack --verbose")
