"""local_stack.apigw: API Gateway REST proxy routing, events and response mapping."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from local_stack.apigw import (
    INTEGRATION_FAILURE,
    MISSING_AUTHENTICATION_TOKEN,
    ApiGateway,
    MalformedProxyResponse,
    build_proxy_event,
    gateway_response,
    map_proxy_result,
    match_route,
)
from local_stack.lambda_runtime import FunctionError, Invocation
from local_stack.template.api import ApiSettings, Route, api_settings
from local_stack.template.document import Template

SAM_EVENT = json.loads((Path(__file__).parent / "fixtures" / "sam_aws_proxy_event.json").read_text())

ROUTES = [
    Route("GET", "/funders/{funder_id}", "Funders", "AWS_IAM"),
    Route("PUT", "/funders/{funder_id}", "Funders", "AWS_IAM"),
    Route("GET", "/funders/special", "Special", "AWS_IAM"),
    Route("POST", "/funders/{funder_id}/usage", "Usage", "AWS_IAM"),
    Route("ANY", "/files/{proxy+}", "Files", "AWS_IAM"),
    Route("GET", "/files/{proxy+}", "FilesGet", "AWS_IAM"),
    Route("ANY", "/{proxy+}", "CatchAll", "NONE"),
    Route("GET", "/", "Root", "NONE"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        ("GET", "/funders/f1", "Funders", {"funder_id": "f1"}),
        ("GET", "/funders/special", "Special", {}),  # a literal segment beats {funder_id}
        ("PUT", "/funders/special", "Funders", {"funder_id": "special"}),  # no PUT on the literal
        ("POST", "/funders/f%201/usage", "Usage", {"funder_id": "f 1"}),  # decoded
        ("GET", "/funders/a%2Fb", "Funders", {"funder_id": "a/b"}),  # an encoded slash stays in its segment
        ("GET", "/files/a/b/c.txt", "FilesGet", {"proxy": "a/b/c.txt"}),  # method beats ANY
        ("DELETE", "/files/a/b", "Files", {"proxy": "a/b"}),
        ("DELETE", "/funders/f1", "CatchAll", {"proxy": "funders/f1"}),  # greedy catch-all
        ("GET", "/funders/f1/", "Funders", {"funder_id": "f1"}),  # trailing slash
        ("GET", "/", "Root", {}),
        ("GET", "/funders/f1?x=1", "Funders", {"funder_id": "f1"}),
    ],
)
def test_route_matching_like_api_gateway(method: str, path: str, function: str, parameters: dict[str, str]) -> None:
    match = match_route(ROUTES, method, path)
    assert match is not None
    assert (match.route.function_logical_id, match.path_parameters) == (function, parameters)


def test_no_route() -> None:
    routes = ROUTES[:4]
    assert match_route(routes, "GET", "/nothing") is None
    assert match_route(routes, "DELETE", "/funders/f1") is None  # known path, unknown method
    assert match_route(routes, "GET", "/funders") is None
    assert match_route(routes, "GET", "/funders//usage") is None  # empty segment is no parameter
    assert match_route([Route("ANY", "/{proxy+}", "F", "NONE")], "GET", "/") is None  # greedy needs a segment


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def _event(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method": "POST",
        "raw_path": "/path/to/resource",
        "query": "foo=bar",
        "headers": [("Accept", "text/html"), ("Host", "localhost:3000"), ("User-Agent", "Custom User Agent String")],
        "body_bytes": b'{"test":"body"}',
        "route": Route("ANY", "/{proxy+}", "F", "AWS_IAM"),
        "stage": "prod",
    }
    arguments.update(overrides)
    return build_proxy_event(**arguments)


def test_event_has_the_shape_of_sams_aws_proxy_event() -> None:
    event = _event(stage_variables={"baz": "qux"})
    sample = SAM_EVENT
    assert set(event) == set(sample)
    for key in ("resource", "path", "httpMethod", "isBase64Encoded", "body"):
        assert type(event[key]) is type(sample[key]), key
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables"):
        assert _shape(event[key]) == _shape(sample[key]), key
    assert set(sample["requestContext"]) <= set(event["requestContext"])
    for key, value in sample["requestContext"].items():
        assert type(event["requestContext"][key]) is type(value), key
    assert set(sample["requestContext"]["identity"]) <= set(event["requestContext"]["identity"])
    assert set(sample["headers"]) - {"Accept", "Host", "User-Agent"} <= set(event["headers"])


def test_event_values() -> None:
    event = _event(
        query="a=1&a=2&b=x%20y&c=p+q&empty=",
        headers=[("Host", "localhost:3000"), ("X-Multi", "1"), ("X-Multi", "2"), ("User-Agent", "curl/8")],
        route=Route("PUT", "/funders/{funder_id}", "F", "AWS_IAM"),
        raw_path="/funders/f%201",
        method="put",
        stage="dev",
        source_ip="10.0.0.9",
        forwarded_port=3000,
        request_id="req-1",
    )
    assert event["resource"] == "/funders/{funder_id}"
    assert event["path"] == "/funders/f 1"
    assert event["httpMethod"] == "PUT"
    assert event["pathParameters"] == {"funder_id": "f 1"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "c": "p+q", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "c": ["p+q"], "empty": [""]}
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["headers"]["X-Forwarded-For"] == "10.0.0.9"
    assert event["headers"]["X-Forwarded-Port"] == "3000"
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["path"] == "/dev/funders/f 1"
    assert context["resourcePath"] == "/funders/{funder_id}"
    assert context["stage"] == "dev"
    assert context["httpMethod"] == "PUT"
    assert context["requestId"] == "req-1"
    assert context["identity"]["sourceIp"] == "10.0.0.9"
    assert context["identity"]["userAgent"] == "curl/8"
    assert context["identity"]["accessKey"] is None
    assert context["accountId"] == "123456789012"
    assert isinstance(context["requestTimeEpoch"], int)
    assert event["body"] == '{"test":"body"}'
    assert event["isBase64Encoded"] is False


def test_nulls_when_there_is_nothing() -> None:
    event = _event(query="", body_bytes=b"", route=Route("GET", "/x", "F", "NONE"), raw_path="/x", method="GET")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_binary_bodies_are_base64() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    as_binary_type = _event(body_bytes=png, headers={"Content-Type": "image/png"}, binary_media_types=["image/png"])
    assert as_binary_type["isBase64Encoded"] is True
    assert base64.b64decode(as_binary_type["body"]) == png
    not_utf8 = _event(body_bytes=png, headers={"Content-Type": "application/json"})
    assert not_utf8["isBase64Encoded"] is True
    assert base64.b64decode(not_utf8["body"]) == png
    wildcard = _event(body_bytes=b"text", headers={"Content-Type": "text/plain"}, binary_media_types=["*/*"])
    assert (wildcard["isBase64Encoded"], wildcard["body"]) == (True, base64.b64encode(b"text").decode())
    utf8 = _event(body_bytes="é".encode(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert (utf8["isBase64Encoded"], utf8["body"]) == (False, "é")


def test_signed_request_exposes_the_access_key_unverified() -> None:
    signature = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    event = _event(headers={"Authorization": signature})
    assert event["requestContext"]["identity"]["accessKey"] == "AKIDEXAMPLE"


def test_response_mapping() -> None:
    response = map_proxy_result(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-One": "a", "X-Two": 2},
            "multiValueHeaders": {"X-One": ["a", "c"], "Set-Cookie": ["k1=v1", "k2=v2"]},
            "body": "created",
            "isBase64Encoded": False,
        }
    )
    assert response.status == 201
    assert response.body == b"created"
    assert response.headers == [
        ("X-One", "a"),
        ("X-One", "c"),
        ("Set-Cookie", "k1=v1"),
        ("Set-Cookie", "k2=v2"),
        ("Content-Type", "text/plain"),
        ("X-Two", "2"),
    ]
    minimal = map_proxy_result({"statusCode": 204})
    assert (minimal.status, minimal.body, minimal.header("content-type")) == (204, b"", "application/json")


def test_base64_response_is_decoded_for_binary_media_types() -> None:
    result = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": True}
    decoded = map_proxy_result(result, accept="image/png", binary_media_types=["image/png"])
    assert decoded.body == base64.b64decode("iVBORw==")
    # Without a matching binary media type API Gateway passes the base64 text through.
    assert map_proxy_result(result, accept="image/png").body == b"iVBORw=="


@pytest.mark.parametrize(
    "result",
    [
        None,
        "text",
        [],
        {"body": "no status"},
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": {"a": 1}},  # the classic: a dict body
        {"statusCode": 200, "cookies": ["a=b"]},  # a v2-only key
        {"statusCode": 200, "headers": {"X": ["list"]}},
        {"statusCode": 200, "multiValueHeaders": {"X": "not a list"}},
        {"statusCode": 200, "isBase64Encoded": "yes"},
    ],
)
def test_malformed_results(result: Any) -> None:
    with pytest.raises(MalformedProxyResponse):
        map_proxy_result(result)


def test_status_code_as_digit_string_is_accepted() -> None:
    assert map_proxy_result({"statusCode": "202", "body": ""}).status == 202


def test_gateway_responses_default_and_templated(project_template: Template) -> None:
    plain = gateway_response(MISSING_AUTHENTICATION_TOKEN, None, request_id="r")
    assert (plain.status, plain.json()) == (403, {"message": "Missing Authentication Token"})
    assert plain.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    failure = gateway_response(INTEGRATION_FAILURE, None, request_id="r")
    assert (failure.status, failure.json()) == (502, {"message": "Internal server error"})

    api = api_settings(project_template, "BillingApi")
    templated = gateway_response(MISSING_AUTHENTICATION_TOKEN, api, request_id="r")
    assert (templated.status, templated.json()) == (
        403,
        {"error": {"code": "gateway_rejected", "message": "Missing Authentication Token"}},
    )
    templated_5xx = gateway_response(INTEGRATION_FAILURE, api, request_id="r")
    assert (templated_5xx.status, templated_5xx.json()) == (
        502,
        {"error": {"code": "gateway_error", "message": "Internal server error"}},
    )


class FakeRunner:
    account_id = "123456789012"

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.events: list[dict[str, Any]] = []

    def invoke(self, logical_id: str, event: dict[str, Any], *, request_id: str | None = None) -> Invocation:
        self.events.append(event)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return Invocation(self.outcome, "req", 1.0)


def _gateway(outcome: Any, api: ApiSettings | None = None) -> tuple[ApiGateway, FakeRunner]:
    runner = FakeRunner(outcome)
    api = api or ApiSettings("Api", "abc", "dev")
    routes = [Route("PUT", "/funders/{funder_id}", "Funders", "AWS_IAM", "Api")]
    return ApiGateway(routes, runner, {"Api": api}), runner  # type: ignore[arg-type]


def test_gateway_invokes_with_the_event_and_maps_back() -> None:
    gateway, runner = _gateway({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"})
    response = gateway.handle("PUT", "/funders/f1?x=1", {"Content-Type": "application/json"}, b'{"name":"A"}')
    assert response.status == 200
    assert response.header("x-amzn-RequestId")
    (event,) = runner.events
    assert (event["pathParameters"], event["queryStringParameters"], event["body"]) == (
        {"funder_id": "f1"},
        {"x": "1"},
        '{"name":"A"}',
    )
    assert event["requestContext"]["requestId"] == response.header("x-amzn-RequestId")
    assert event["requestContext"]["path"] == "/dev/funders/f1"


def test_gateway_unknown_route_is_403_missing_authentication_token() -> None:
    gateway, runner = _gateway({"statusCode": 200})
    for method, path in (("GET", "/nope"), ("GET", "/funders/f1")):
        response = gateway.handle(method, path, {}, b"")
        assert (response.status, response.json()) == (403, {"message": "Missing Authentication Token"})
    assert runner.events == []


def test_gateway_502_when_the_handler_raises_or_misbehaves(caplog: pytest.LogCaptureFixture) -> None:
    raising, _ = _gateway(FunctionError("Funders", "req", "RuntimeError", "boom"))
    response = raising.handle("PUT", "/funders/f1", {}, b"")
    assert (response.status, response.json()) == (502, {"message": "Internal server error"})

    malformed, _ = _gateway({"statusCode": 200, "body": {"not": "a string"}})
    response = malformed.handle("PUT", "/funders/f1", {}, b"")
    assert (response.status, response.json()) == (502, {"message": "Internal server error"})
    assert "Malformed Lambda proxy response" in caplog.text


def test_gateway_413_for_oversized_bodies() -> None:
    gateway, runner = _gateway({"statusCode": 200})
    response = gateway.handle("PUT", "/funders/f1", {}, b"x" * (10 * 1024 * 1024 + 1))
    assert (response.status, response.json()) == (413, {"message": "Request Too Long"})
    assert runner.events == []
