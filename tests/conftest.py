"""Fixtures shared by every suite: moto with tables built from template.yaml, the Stripe emulator, and
handlers invoked the way Lambda (and `sam local invoke`) would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import pytest
import stripe
from moto import mock_aws
from moto_partner_events import patch_moto

from local_stack.lambda_runtime import LambdaRunner
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.intrinsics import StackResources, resolve_parameters
from stripe_emulator import StripeEmulator
from tests.iam_grants import Grant, granted_permissions, recorded_aws_calls, ungranted_calls
from tests.support import EMULATOR_API_KEY, PROJECT_ROOT, WEBHOOK_SECRETS, Invoke, template

AWS_REGION = "us-east-1"


def _share_botocore_model_cache() -> None:
    """Every botocore session of this process shares what its loader read from botocore's data files (service
    models, endpoints). Each handler's cold start and Powertools' idempotency layer make sessions of their own,
    and each would parse the same JSON files again (a tenth of a second per client); the files do not change."""
    shared: dict[tuple[str, ...], dict[Any, Any]] = {}
    initialise = botocore.loaders.Loader.__init__

    def __init__(self: botocore.loaders.Loader, *args: Any, **kwargs: Any) -> None:
        initialise(self, *args, **kwargs)
        self._cache = shared.setdefault(tuple(self.search_paths), {})  # type: ignore[attr-defined]  # its private cache

    botocore.loaders.Loader.__init__ = __init__  # type: ignore[method-assign]


_share_botocore_model_cache()
DEMO_CUSTOMER_ID = "cus_LocalDemoAcme"


def pytest_report_header() -> str:
    version = ".".join(map(str, sys.version_info[:3]))
    note = "" if sys.version_info[:2] == (3, 13) else " (not the Lambda runtime's 3.13: fell back)"
    return f"Python {version}{note}"


# The two reliability proofs take minutes each (10,000 records in sync mode, 2,000 in stream mode), the rest of
# the suite seconds per test. With `--dist worksteal` (the Makefile's PYTEST_ARGS) the first worker starts on
# the first half of the list and the second on the other half; an idle worker steals from the back of the other's
# queue. So each proof heads one half: both start at once, on different workers, and the short tests fill in around
# them. (One proof last left a worker idle while it ran; side by side, one worker got both.)
RELIABILITY = "tests/integration/test_usage_reliability.py::"
FIRST_HALF_HEAD = RELIABILITY + "test_ten_thousand_records_billed_exactly_once"
SECOND_HALF_HEAD = RELIABILITY + "test_stream_mode_bills_exactly_once_and_fails_only_what_stripe_refused"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    heads = {item.nodeid: item for item in items if item.nodeid in (FIRST_HALF_HEAD, SECOND_HALF_HEAD)}
    rest = [item for item in items if item.nodeid not in heads]
    if FIRST_HALF_HEAD in heads:
        rest.insert(0, heads[FIRST_HALF_HEAD])
    if SECOND_HALF_HEAD in heads:
        rest.insert((len(rest) + 1) // 2, heads[SECOND_HALF_HEAD])
    items[:] = rest


@pytest.fixture(scope="session")
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def no_emulator_internal_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail every test during which the Stripe emulator failed by itself (an exception in a handler, a
    clock rule or webhook delivery: a bug in the emulator, answered 500 and easy to mistake for Stripe's).
    Injected faults are not internal errors. Checked after the test's own teardown (the emulator is reset
    when a test starts, so what it reports is this test's)."""
    yield
    if "stripe_emulator" not in request.fixturenames:
        return
    emulator: StripeEmulator = request.getfixturevalue("stripe_emulator")
    crashes = emulator.internal_errors()
    if crashes:
        lines = [
            f"{crash['source']} {crash['method'] or ''} {crash['path'] or ''} ({crash['request_id']}): {crash['error']}"
            f" at {' <- '.join(reversed(crash['traceback']))}"
            for crash in crashes
        ]
        pytest.fail("the Stripe emulator failed internally (a bug in it):\n" + "\n".join(lines), pytrace=False)


@pytest.fixture
def stripe_api(stripe_emulator: StripeEmulator) -> str:
    """The emulator's base URL, with every object, fault and clock change of earlier tests forgotten."""
    stripe_emulator.reset()
    return stripe_emulator.url


@pytest.fixture
def stripe_client(stripe_api: str) -> stripe.StripeClient:
    return stripe.StripeClient(EMULATOR_API_KEY, base_addresses={"api": stripe_api, "meter_events": stripe_api})


@pytest.fixture
def demo_customer(stripe_emulator: StripeEmulator, stripe_api: str) -> str:
    """The customer the sample events (events/funders/put_funder_linked.json) and the local demo name."""
    stripe_emulator.seed_customer(DEMO_CUSTOMER_ID, "Acme Health (demo)")
    return DEMO_CUSTOMER_ID


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process, with fake credentials and no endpoint or profile of the machine's; partner event buses
    behave as on AWS (moto_partner_events)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_REGION": AWS_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    patch_moto()
    # One boto3 default session for the worker (moto replaces it at each start by default): each test's clients
    # then reuse its loaded service models instead of reading them again, the credentials being the same.
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        yield


@pytest.fixture
def aws(mocked_aws: None) -> StackResources:
    """moto, with every table (topic, queue) of template.yaml created from the template itself."""
    return create_aws_resources(template(), prefix="test")


@pytest.fixture
def funders_table(aws: StackResources) -> Any:
    return boto3.resource("dynamodb").Table(aws["FundersTable"])


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    """Template parameter overrides for `invoke` (a module overrides this fixture, e.g. MeterEventMode)."""
    return {}


@pytest.fixture
def invoke(aws: StackResources, stripe_api: str, stack_parameters: dict[str, str]) -> Invoke:
    """Invoke a template function in-process with its template environment (moto + emulator behind it).

    Each test starts from a cold start; environment variables a test sets are seen by the handler (those the
    template sets come from its parameters: see `stack_parameters`). An invocation that made an AWS call its
    function's template policies do not grant fails the test (least privilege, tests/iam_grants.py).
    """
    overrides = {**stack_parameters, "StripeApiBase": stripe_api}
    parameters = resolve_parameters(template(), overrides)
    for name, value in (
        (parameters["StripeApiKeyParameterName"], EMULATOR_API_KEY),
        (parameters["StripeWebhookSecretsParameterName"], ",".join(WEBHOOK_SECRETS)),
    ):
        boto3.client("ssm").put_parameter(Name=f"/{name}", Value=value, Type="SecureString", Overwrite=True)
    runner = LambdaRunner(template(), PROJECT_ROOT, aws, overrides)
    grants: dict[str, list[Grant]] = {}

    def _invoke(logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        with recorded_aws_calls(aws.account_id) as calls:
            result: dict[str, Any] = runner.invoke(logical_id, event).result
        # Least privilege, checked from below: every AWS call the handler made is one its policies grant.
        if logical_id not in grants:
            grants[logical_id] = granted_permissions(template(), logical_id, aws, overrides)
        missing = ungranted_calls(calls, grants[logical_id])
        assert not missing, f"{logical_id} is not granted (template.yaml Policies): {', '.join(missing)}"
        return result

    return _invoke
