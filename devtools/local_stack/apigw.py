"""API Gateway REST API (Lambda proxy integration, payload v1) as faithfully as matters locally.

Requests
- Routes come from the template (`api_routes`). Matching follows API Gateway: the most specific resource wins,
  segment by segment (a literal segment beats `{param}`, which beats a greedy `{proxy+}`); a method-specific
  route beats `ANY`. A trailing slash is ignored for matching.
- An unknown path, or a known path without that method, is answered like API Gateway REST does:
  403 `{"message": "Missing Authentication Token"}` (its MISSING_AUTHENTICATION_TOKEN gateway response),
  not 404.
- Events are the v1 proxy payload: `resource`, `path`, `httpMethod`, `headers`/`multiValueHeaders` (a repeated
  header keeps its last value in `headers`), `queryStringParameters`/`multiValueQueryStringParameters` (null
  when there is no query string; percent-escapes are decoded, `+` is kept), `pathParameters` (null when
  none), `stageVariables` (null), `requestContext` (path "/<stage>/...", identity, requestId, ...), `body`
  (null when empty) and `isBase64Encoded`. A body whose Content-Type is one of the API's BinaryMediaTypes, or
  that is not UTF-8, is base64-encoded with `isBase64Encoded: true` (API Gateway would mangle non-UTF-8 text);
  text bodies are passed as-is.
- **SigV4 is not checked.** Routes whose authorizer is AWS_IAM accept unsigned requests locally; when a request
  is signed, `requestContext.identity.accessKey` carries its access key id (unverified). Their identity names a
  plausible IAM caller (`userArn`, `caller`, `user`, `accountId`), as API Gateway's IAM auth does: the ARN in
  the `X-Local-Caller-Arn` request header (a local-only control, for tests and demos), else
  `arn:aws:iam::<account>:user/local-developer`. Routes without IAM auth have a null identity, as on AWS.
- Bodies above 10 MB get 413, like API Gateway's payload limit.

Responses
- The handler's result must be an object with only `statusCode`, `headers`, `multiValueHeaders`, `body`
  (a string) and `isBase64Encoded`; anything else (a dict body, a missing statusCode, an extra key), or a
  handler that raises, is a 502 "Internal server error" like API Gateway's "Malformed Lambda proxy response".
  The traceback or the reason goes to stderr.
- `headers` and `multiValueHeaders` are merged as API Gateway documents it; Content-Type defaults to
  application/json.
- A base64 body (`isBase64Encoded: true`) is decoded when the API declares a binary media type matching the
  request's Accept or the response's Content-Type, or `*/*`; otherwise API Gateway sends the base64 text
  unchanged, and so do we (with a warning).
- Gateway-generated errors (403, 413, 502, 504) use the API's `GatewayResponses` templates when the template
  defines them (e.g. DEFAULT_4XX, DEFAULT_5XX), else API Gateway's default `{"message": "..."}` body.
- An invocation that took longer than 29 s answers 504 "Endpoint request timed out" (afterwards: the handler
  runs in-process and cannot be cut short).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from local_stack.lambda_runtime import FunctionError, FunctionNotFound, FunctionThrottled, LambdaRunner
from local_stack.template.api import ApiSettings, GatewayResponse, Route, api_routes, api_settings
from local_stack.template.document import Template
from local_stack.template.intrinsics import DEFAULT_ACCOUNT_ID, local_api_id

LOG = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29
PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})

HeaderPairs = list[tuple[str, str]]


# --------------------------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------------------------

_PARAM = re.compile(r"^\{([^{}+]+)\}$")
_GREEDY = re.compile(r"^\{([^{}+]+)\+\}$")


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


def _raw_segments(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    return path.strip("/").split("/") if path.strip("/") else []


def _match_template(template: str, raw_segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity per segment: 0 literal, 1 {param}, 2 {greedy+}; path parameters) or None."""
    parts = _raw_segments(template)
    score: list[int] = []
    parameters: dict[str, str] = {}
    for index, part in enumerate(parts):
        greedy = _GREEDY.match(part)
        if greedy:
            rest = raw_segments[index:]
            if not rest or index != len(parts) - 1:
                return None
            parameters[greedy.group(1)] = unquote("/".join(rest))
            score.append(2)
            return tuple(score), parameters
        if index >= len(raw_segments) or raw_segments[index] == "":
            return None
        value = unquote(raw_segments[index])
        param = _PARAM.match(part)
        if param:
            parameters[param.group(1)] = value
            score.append(1)
        elif part == value:
            score.append(0)
        else:
            return None
    if len(parts) != len(raw_segments):
        return None
    return tuple(score), parameters


def match_route(routes: Iterable[Route], method: str, raw_path: str) -> RouteMatch | None:
    """The route API Gateway would pick for `method raw_path` (percent-encoded path), or None."""
    segments = _raw_segments(raw_path)
    method = method.upper()
    best: tuple[tuple[tuple[int, ...], int], RouteMatch] | None = None
    for route in routes:
        if route.method not in (method, "ANY"):
            continue
        matched = _match_template(route.path_template, segments)
        if matched is None:
            continue
        key = (matched[0], 1 if route.method == "ANY" else 0)
        if best is None or key < best[0]:
            best = (key, RouteMatch(route, matched[1]))
    return best[1] if best else None


# --------------------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------------------


def _header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> HeaderPairs:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _get_header(pairs: Sequence[tuple[str, str]], name: str) -> str | None:
    found = None
    for key, value in pairs:
        if key.lower() == name.lower():
            found = value
    return found


def _query_pairs(query: str | Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if query is None:
        return []
    if isinstance(query, str):
        pairs = []
        for piece in query.lstrip("?").split("&"):
            if not piece:
                continue
            key, _, value = piece.partition("=")
            pairs.append((unquote(key), unquote(value)))
        return pairs
    if isinstance(query, Mapping):
        return [(str(k), str(v)) for k, v in query.items()]
    return [(str(k), str(v)) for k, v in query]


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_binary_type(media_type: str, binary_media_types: Sequence[str]) -> bool:
    if not media_type:
        return "*/*" in binary_media_types
    for declared in binary_media_types:
        pattern = declared.lower()
        if pattern in ("*/*", media_type):
            return True
        if pattern.endswith("/*") and media_type.startswith(pattern[:-1]):
            return True
    return False


def _access_key(authorization: str | None) -> str | None:
    match = re.search(r"Credential=([^/,\s]+)/", authorization or "")
    return match.group(1) if match else None


LOCAL_CALLER_HEADER = "X-Local-Caller-Arn"
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


def _iam_identity(caller_arn: str | None, account_id: str) -> dict[str, str | None]:
    """What API Gateway's IAM auth puts in requestContext.identity for a signed caller (unverified here)."""
    arn = caller_arn or f"arn:aws:iam::{account_id}:user/local-developer"
    matched = _ARN_ACCOUNT.match(arn)
    unique_id = hashlib.sha256(arn.encode()).hexdigest()[:17].upper()
    # A role session's caller is the role's id and the session name; a user's, the user's id.
    session = arn.rsplit("/", 1)[-1]
    principal = f"AROA{unique_id}:{session}" if ":assumed-role/" in arn else f"AIDA{unique_id}"
    return {
        "userArn": arn,
        "caller": principal,
        "user": principal,
        "accountId": matched.group(1) if matched else account_id,
    }


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def build_proxy_event(  # noqa: PLR0917 - positional like the request line it describes
    method: str,
    raw_path: str,
    query: str | Mapping[str, str] | Iterable[tuple[str, str]] | None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    body_bytes: bytes | None,
    route: Route,
    stage: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    binary_media_types: Sequence[str] = (),
    stage_variables: Mapping[str, str] | None = None,
    request_id: str | None = None,
    api_id: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    protocol: str = "HTTP/1.1",
    forwarded_port: int | None = None,
    request_time: float | None = None,
) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload v1) for one request on `route`."""
    method = method.upper()
    path = unquote(urlsplit(raw_path).path or "/")
    if path_parameters is None:
        matched = _match_template(route.path_template, _raw_segments(raw_path))
        path_parameters = matched[1] if matched else {}
    pairs = _header_pairs(headers)
    names = {key.lower() for key, _ in pairs}
    added = {
        "x-forwarded-for": ("X-Forwarded-For", source_ip),
        "x-forwarded-port": ("X-Forwarded-Port", str(forwarded_port or 443)),
        "x-forwarded-proto": ("X-Forwarded-Proto", "http"),
        "x-amzn-trace-id": ("X-Amzn-Trace-Id", _trace_id()),
    }
    pairs += [pair for key, pair in added.items() if key not in names]
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for key, value in pairs:
        single_headers[key] = value
        multi_headers.setdefault(key, []).append(value)

    query_pairs = _query_pairs(query)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in query_pairs:
        single_query[key] = value
        multi_query.setdefault(key, []).append(value)

    body: str | None = None
    is_base64 = False
    if body_bytes:
        binary = _is_binary_type(_media_type(_get_header(pairs, "content-type")), binary_media_types)
        if not binary:
            try:
                body = body_bytes.decode("utf-8")
            except UnicodeDecodeError:
                binary = True
        if binary:
            body = base64.b64encode(body_bytes).decode("ascii")
            is_base64 = True

    now = time.time() if request_time is None else request_time
    request_id = request_id or str(uuid.uuid4())
    api_id = api_id or local_api_id(route.api_logical_id)
    user_agent = _get_header(pairs, "user-agent")
    iam: dict[str, str | None] = {"userArn": None, "caller": None, "user": None, "accountId": None}
    if route.auth == "AWS_IAM":
        iam = _iam_identity(_get_header(pairs, LOCAL_CALLER_HEADER), account_id)
    return {
        "resource": route.path_template,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "resourceId": hashlib.sha256(f"{route.api_logical_id} {route.path_template}".encode()).hexdigest()[:6],
            "resourcePath": route.path_template,
            "httpMethod": method,
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode().rstrip("="),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "accountId": account_id,
            "protocol": protocol,
            "stage": stage,
            "domainPrefix": api_id,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": iam["accountId"],
                "cognitoIdentityId": None,
                "caller": iam["caller"],
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": _access_key(_get_header(pairs, "authorization")),
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": iam["userArn"],
                "userAgent": user_agent,
                "user": iam["user"],
            },
            "domainName": f"{api_id}.execute-api.localhost",
            "deploymentId": "local",
            "apiId": api_id,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


# --------------------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: HeaderPairs
    body: bytes

    def header(self, name: str) -> str | None:
        return _get_header(self.headers, name)

    def json(self) -> Any:
        return json.loads(self.body)


class MalformedProxyResponse(ValueError):
    """The handler's result is not a valid Lambda proxy response (API Gateway answers 502)."""


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedProxyResponse(f"header {name!r} has a {type(value).__name__} value")


def _accepts_binary(accept: str | None, content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    if not binary_media_types:
        return False
    if "*/*" in binary_media_types:
        return True
    candidates = [_media_type(part) for part in (accept or "").split(",") if part.strip()]
    candidates.append(_media_type(content_type))
    return any(c and c != "*/*" and _is_binary_type(c, binary_media_types) for c in candidates)


def map_proxy_result(
    result: Any,
    *,
    accept: str | None = None,
    binary_media_types: Sequence[str] = (),
) -> ProxyResponse:
    """The HTTP response API Gateway makes of a Lambda proxy result; MalformedProxyResponse when it would 502."""
    if not isinstance(result, dict):
        raise MalformedProxyResponse(f"the result is a {type(result).__name__}, not an object")
    extra = sorted(set(result) - PROXY_RESPONSE_KEYS)
    if extra:
        raise MalformedProxyResponse(f"unexpected key(s) {extra}")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not an HTTP status")
    headers = result.get("headers") or {}
    multi_headers = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi_headers, dict):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse(f"body is a {type(body).__name__}, not a string")
    is_base64 = result.get("isBase64Encoded")
    if is_base64 is not None and not isinstance(is_base64, bool):
        raise MalformedProxyResponse("isBase64Encoded must be a boolean")

    # API Gateway: "If you specify values for both headers and multiValueHeaders, API Gateway merges them into
    # a single list. If the same key-value pair is specified in both, only the values from multiValueHeaders
    # will appear in the merged list."
    merged: HeaderPairs = []
    for name, values in multi_headers.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{name!r}] is not a list")
        merged += [(str(name), _header_value(name, v)) for v in values]
    for name, value in headers.items():
        text = _header_value(name, value)
        if (str(name), text) not in merged:
            merged.append((str(name), text))
    if _get_header(merged, "content-type") is None:
        merged.append(("Content-Type", "application/json"))

    payload = (body or "").encode("utf-8")
    if is_base64 and body:
        if _accepts_binary(accept, _get_header(merged, "content-type"), binary_media_types):
            try:
                payload = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError) as error:
                raise MalformedProxyResponse("isBase64Encoded is true but body is not base64") from error
        else:
            LOG.warning(
                "isBase64Encoded response sent as base64 text: the API has no BinaryMediaTypes matching "
                "Accept %r or Content-Type %r (API Gateway does the same)",
                accept,
                _get_header(merged, "content-type"),
            )
    return ProxyResponse(status, merged, payload)


@dataclass(frozen=True)
class _GatewayError:
    response_type: str
    status: int
    message: str
    error_type: str | None


MISSING_AUTHENTICATION_TOKEN = _GatewayError(
    "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token", "MissingAuthenticationTokenException"
)
REQUEST_TOO_LARGE = _GatewayError("REQUEST_TOO_LARGE", 413, "Request Too Long", None)
INTEGRATION_FAILURE = _GatewayError("INTEGRATION_FAILURE", 502, "Internal server error", "InternalServerErrorException")
INTEGRATION_TIMEOUT = _GatewayError("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", None)
# Lambda throttled the proxy integration (its 429 TooManyRequestsException): API Gateway REST answers 500
# "Internal server error" (https://repost.aws/knowledge-center/api-gateway-internal-server-error).
LAMBDA_THROTTLED = _GatewayError("DEFAULT_5XX", 500, "Internal server error", "InternalServerErrorException")

_DEFAULT_GATEWAY_TEMPLATE = '{"message":$context.error.messageString}'


def gateway_response(
    error: _GatewayError,
    api: ApiSettings | None,
    *,
    request_id: str,
    accept: str | None = None,
) -> ProxyResponse:
    """API Gateway's own answer (not the function's), shaped by the API's GatewayResponses if any."""
    responses = api.gateway_responses if api else {}
    default_kind = "DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX"
    specific = responses.get(error.response_type)
    chosen: GatewayResponse | None = specific or responses.get(default_kind)
    status = specific.status_code if specific and specific.status_code else error.status
    templates = chosen.templates if chosen else {}
    wanted = _media_type(accept)
    template = templates.get(wanted) or templates.get("application/json") or next(iter(templates.values()), None)
    context = {
        "$context.error.messageString": json.dumps(error.message),
        "$context.error.message": error.message,
        "$context.error.responseType": error.response_type,
        "$context.requestId": request_id,
        "$context.stage": api.stage if api else "",
        "$context.apiId": api.api_id if api else "",
    }
    body = template if template is not None else _DEFAULT_GATEWAY_TEMPLATE
    for variable in sorted(context, key=len, reverse=True):
        body = body.replace(variable, context[variable])
    headers: HeaderPairs = [("Content-Type", "application/json")]
    if error.error_type:
        headers.append(("x-amzn-ErrorType", error.error_type))
    for name, value in (chosen.headers if chosen else {}).items():
        if len(value) >= 2 and value[0] == value[-1] == "'":
            headers.append((name, value[1:-1]))
    return ProxyResponse(status, headers, body.encode("utf-8"))


# --------------------------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------------------------


class ApiGateway:
    """Routes HTTP requests to template functions through proxy events, the way API Gateway REST does."""

    def __init__(
        self,
        routes: Sequence[Route],
        runner: LambdaRunner,
        apis: Mapping[str, ApiSettings],
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self.routes = list(routes)
        self.runner = runner
        self.apis = dict(apis)
        self.account_id = account_id

    @classmethod
    def from_template(
        cls, template: Template, runner: LambdaRunner, parameter_overrides: Mapping[str, Any] | None = None
    ) -> ApiGateway:
        routes = api_routes(template, parameter_overrides)
        apis = {r.api_logical_id: api_settings(template, r.api_logical_id, parameter_overrides) for r in routes}
        return cls(routes, runner, apis, account_id=runner.account_id)

    def function_for(self, method: str, target: str) -> str | None:
        """The function a request goes to (its logical id), None when no route takes it."""
        match = match_route(self.routes, method, urlsplit(target).path or "/")
        return match.route.function_logical_id if match else None

    def default_api(self) -> ApiSettings | None:
        """The API answering requests that match no route (the only one, when there is only one)."""
        return next(iter(self.apis.values())) if len(self.apis) == 1 else None

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
        forwarded_port: int | None = None,
    ) -> ProxyResponse:
        """One HTTP request (`target` is the request-target: path and query string) → the HTTP response."""
        request_id = str(uuid.uuid4())
        pairs = _header_pairs(headers)
        accept = _get_header(pairs, "accept")
        parts = urlsplit(target)
        raw_path, query = parts.path or "/", parts.query
        if len(body) > MAX_PAYLOAD_BYTES:
            return self._finish(
                gateway_response(REQUEST_TOO_LARGE, self.default_api(), request_id=request_id), request_id
            )
        match = match_route(self.routes, method, raw_path)
        if match is None:
            response = gateway_response(
                MISSING_AUTHENTICATION_TOKEN, self.default_api(), request_id=request_id, accept=accept
            )
            return self._finish(response, request_id)
        api = self.apis.get(match.route.api_logical_id)
        stage = api.stage if api else "local"
        event = build_proxy_event(
            method,
            raw_path,
            query,
            pairs,
            body,
            match.route,
            stage,
            path_parameters=match.path_parameters,
            source_ip=source_ip,
            binary_media_types=api.binary_media_types if api else (),
            request_id=request_id,
            api_id=api.api_id if api else None,
            account_id=self.account_id,
            forwarded_port=forwarded_port,
        )
        started = time.monotonic()
        try:
            invocation = self.runner.invoke(match.route.function_logical_id, event)
        except FunctionNotFound:
            LOG.error("route %s %s: function %s cannot run locally", method, raw_path, match.route.function_logical_id)
            return self._finish(
                gateway_response(INTEGRATION_FAILURE, api, request_id=request_id, accept=accept), request_id
            )
        except FunctionThrottled:
            return self._finish(
                gateway_response(LAMBDA_THROTTLED, api, request_id=request_id, accept=accept), request_id
            )
        except FunctionError:
            # The traceback is already on stderr (LambdaRunner logs it, as Lambda logs to CloudWatch).
            return self._finish(
                gateway_response(INTEGRATION_FAILURE, api, request_id=request_id, accept=accept), request_id
            )
        if time.monotonic() - started > INTEGRATION_TIMEOUT_SECONDS:
            LOG.error(
                "%s %s took more than %d s: API Gateway would have answered 504",
                method,
                raw_path,
                INTEGRATION_TIMEOUT_SECONDS,
            )
            return self._finish(
                gateway_response(INTEGRATION_TIMEOUT, api, request_id=request_id, accept=accept), request_id
            )
        try:
            response = map_proxy_result(
                invocation.result, accept=accept, binary_media_types=api.binary_media_types if api else ()
            )
        except MalformedProxyResponse as error:
            LOG.error(
                "Execution failed due to configuration error: Malformed Lambda proxy response (%s): %r",
                error,
                invocation.result,
            )
            return self._finish(
                gateway_response(INTEGRATION_FAILURE, api, request_id=request_id, accept=accept), request_id
            )
        return self._finish(response, request_id)

    @staticmethod
    def _finish(response: ProxyResponse, request_id: str) -> ProxyResponse:
        extra = [
            ("x-amzn-RequestId", request_id),
            ("x-amz-apigw-id", base64.b64encode(uuid.uuid4().bytes[:6]).decode()),
            ("X-Amzn-Trace-Id", _trace_id()),
        ]
        present = {name.lower() for name, _ in response.headers}
        headers = response.headers + [(k, v) for k, v in extra if k.lower() not in present]
        return ProxyResponse(response.status, headers, response.body)
