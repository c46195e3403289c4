"""schemathesis against the API's OpenAPI document, over HTTP through the local stack (issue 11 §7).

The document is built from the code (`local_stack.openapi`: the template's IAM routes, each described by its
function's Powertools resolver), so a route added to the template and a function is fuzzed without a change here.
Every operation gets valid requests (positive mode) and requests that break its schema (negative mode): none may
answer 5xx, and every error must be in the contract's shape, `{"error": {"code", "message"[, "details"]}}`
(docs/contract.md). The Stripe webhook is not in the document: its hostile inputs are tested in
tests/functions/test_webhook_api.py.

Bounded for `make test` (at most a minute on 2 cores): a fixed number of examples per operation and mode,
derandomized (the same requests every run), no shrinking, no example database.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from local_stack.openapi import api_document, iam_routes
from local_stack.process import LocalStackProcess
from local_stack.stack import DEMO_CUSTOMER_ID
from tests.support import template

pytestmark = pytest.mark.e2e
KNOWN_FUNDER_ID = "fuzzed-funder"
EXAMPLES_PER_OPERATION = 10  # per operation and generation mode: about 240 requests in all


@pytest.fixture(scope="module")
def fuzzed_stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess(args=["--skip-catalog"]) as process:
        body = json.dumps({"name": "Fuzzed funder", "stripe_customer_id": DEMO_CUSTOMER_ID}).encode()
        request = urllib.request.Request(f"{process.api_url}/funders/{KNOWN_FUNDER_ID}", data=body, method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        yield process


@pytest.fixture(scope="module")
def api_schema(fuzzed_stack: LocalStackProcess) -> Any:
    schema = schemathesis.openapi.from_dict(api_document())
    schema.config.update(base_url=fuzzed_stack.api_url, request_timeout=30)
    return schema


def error_in_contract_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx body is `{"error": {"code": str, "message": str, ...}}`."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as not_json:
        raise AssertionError(
            f"{response.status_code} with a body that is not JSON: {response.content[:200]!r}"
        ) from not_json
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} without an `error` object: {body!r}"
    assert isinstance(error.get("code"), str), f"error without a string code: {body!r}"
    assert error["code"], f"error with an empty code: {body!r}"
    assert isinstance(error.get("message"), str), f"error without a string message: {body!r}"
    assert error["message"], f"error with an empty message: {body!r}"
    return True


def _requests(operation: Any, mode: GenerationMode) -> SearchStrategy[Any]:
    """Requests for `operation`; on a funder's routes, half of them for a funder that exists (linked to the demo
    customer), so that they get past the 404 into the route's own logic."""
    generated = operation.as_strategy(generation_mode=mode)
    if "{funder_id}" not in operation.path:
        return generated
    return generated | operation.as_strategy(generation_mode=mode, path_parameters={"funder_id": KNOWN_FUNDER_ID})


def _answered_in_contract(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, error_in_contract_shape, response_schema_conformance])


def test_no_5xx_and_every_error_in_the_contract_shape(api_schema: Any) -> None:
    """One test for every operation (so one stack, whichever pytest-xdist worker runs it), reporting them all."""
    failures = []
    for route in iam_routes(template()):
        operation = api_schema[route.path_template][route.method.lower()]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz = settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.generate],  # no shrinking: a failure's example is reported as found
                suppress_health_check=list(HealthCheck),
            )(given(_requests(operation, mode))(_answered_in_contract))
            try:
                fuzz()
            # A failed check raises FailureGroup, a BaseExceptionGroup: every operation is fuzzed, then all reported.
            except (Exception, FailureGroup) as error:
                failures.append(f"{route.method} {route.path_template} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)


def test_the_document_describes_every_iam_route_and_not_the_webhook() -> None:
    document = api_document()
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert ("GET", "/funders/{funder_id}") in operations
    assert ("POST", "/invoices/{invoice_id}/approve") in operations
    assert not any(path.startswith("/stripe/") for _, path in operations)
    assert operations == {(route.method, route.path_template) for route in iam_routes(template())}


@pytest.mark.parametrize(
    ("status", "content"),
    [(422, b'{"detail": [{"loc": ["body"]}]}'), (500, b"Internal Server Error"), (404, b'{"error": {"code": ""}}')],
)
def test_the_contract_check_refuses_an_error_of_another_shape(status: int, content: bytes) -> None:
    response = SimpleNamespace(status_code=status, content=content)
    with pytest.raises(AssertionError):
        error_in_contract_shape(None, response, None)
