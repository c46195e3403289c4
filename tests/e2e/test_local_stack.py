"""End to end: `python -m local_stack` (what `make local` runs) serving the funders routes over HTTP.

The stack runs as a child process on free ports with its embedded defaults: moto server, the Stripe emulator,
the catalog bootstrap, and the API reading its routes from template.yaml. The contract is docs/contract.md.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import stripe

from local_stack.process import LocalStackProcess
from tests.support import PROJECT_ROOT, call_json

pytestmark = pytest.mark.e2e
PYTHONPATH = os.pathsep.join(str(PROJECT_ROOT / part) for part in ("layers/shared", "devtools", "."))


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess() as process:
        yield process


@pytest.fixture(scope="module")
def customer_id(stack: LocalStackProcess) -> str:
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": stack.stripe_url})
    return str(client.v1.customers.create({"name": "Acme Health", "email": "billing@acme.example"}).id)


def test_ready_lines(stack: LocalStackProcess) -> None:
    ready = stack.stdout_lines.index("Ready. Ctrl-C to stop.")
    endpoints = [line for line in stack.stdout_lines[:ready] if not line.startswith("catalog: ")]
    assert endpoints[:3] == [
        f"API         {stack.api_url}",
        f"AWS (moto)  {stack.aws_url}",
        f"Stripe      {stack.stripe_url} (emulator, demo customer cus_LocalDemoAcme)",
    ]
    assert endpoints[3] == (
        f"Webhooks    {stack.api_url}/stripe/webhook "
        "(emulator -> API, snapshot and thin, signed with STRIPE_WEBHOOK_SECRET)"
    )
    assert [line.split("(")[1] for line in endpoints[4:-2]] == ["FinanceTopic; make inbox)"]  # one inbox per topic
    assert endpoints[-2:] == [
        "State       in memory only (moto, the Stripe emulator): lost when the stack stops",
        "Logs        one line per request; handler logs and metrics with --verbose or LOCAL_VERBOSE=1",
    ]
    assert ready == len(stack.stdout_lines) - 1
    assert any(line.startswith("catalog: ") for line in stack.stdout_lines)  # bootstrap ran at start


def test_put_then_get_a_funder(stack: LocalStackProcess, customer_id: str) -> None:
    status, body = call_json("PUT", f"{stack.api_url}/funders/f1", {"name": "Acme", "stripe_customer_id": customer_id})
    assert status == 200, body
    assert body["name"] == "Acme"
    assert body["stripe_customer_id"] == customer_id

    status, fetched = call_json("GET", f"{stack.api_url}/funders/f1")
    assert status == 200, fetched
    assert fetched["name"] == "Acme"
    assert fetched["stripe_customer_id"] == customer_id


def readme_curls() -> list[tuple[list[str], int, str]]:
    """The `curl` lines of the README's "Run it locally" block: (curl's arguments, expected status, comment)."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = readme.split("## Run it locally", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    found = []
    for line in block.splitlines():
        command, _, comment = line.partition("  # ")
        if command.startswith("curl "):
            status, _, rest = comment.strip().partition(" ")
            found.append((shlex.split(command)[1:], int(status), rest))
    return found


def curl_request(arguments: list[str], api_url: str, renames: dict[str, str]) -> urllib.request.Request:
    """The request curl would make: `-X METHOD`, `-H 'Name: value'`, `-d BODY` (sent as a form, as curl labels
    it) and the URL; the README's ids replaced by fresh ones (this module's other tests share the stack)."""

    def renamed(text: str) -> str:
        for old, new in renames.items():
            text = text.replace(old, new)
        return text

    method, headers, body, url = None, {}, None, ""
    words = iter(arguments)
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            headers[name] = renamed(value)
        elif word == "-d":
            body = renamed(next(words)).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            url = renamed(word).replace("localhost:3000", api_url.removeprefix("http://"))
    return urllib.request.Request(f"http://{url.removeprefix('http://')}", data=body, method=method, headers=headers)


def test_the_readme_curls_answer_what_the_readme_says(stack: LocalStackProcess) -> None:
    curls = readme_curls()
    assert len(curls) >= 6
    renames = {
        "/funders/f1": "/funders/readme-f1",
        "cus_LocalDemoAcme": new_customer(stack, "Readme Clinic"),
        "click-1": "readme-click-1",
    }
    for arguments, expected, comment in curls:
        request = curl_request(arguments, stack.api_url, renames)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, body = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, body = error.code, json.loads(error.read())
        assert status == expected, (arguments, body)
        code = comment.split(" ", 1)[0]
        if status >= 400 and code:
            assert body["error"]["code"] == code, (arguments, body)


def test_make_catalog_against_the_running_stack_changes_nothing(stack: LocalStackProcess) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "STRIPE_API_KEY": "sk_test_emulator",
        "STRIPE_API_BASE": stack.stripe_url,
    }
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "incytes_billing.catalog"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("0 change(s), already up to date")


def test_invoke_runs_a_sample_event_against_the_running_stack(stack: LocalStackProcess) -> None:
    """`make invoke` = `python -m local_stack.invoke`: the Docker-free `sam local invoke`."""
    environment = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "LOCAL_AWS_PORT": stack.aws_url.rsplit(":", 1)[1],
        "STRIPE_EMULATOR_PORT": stack.stripe_url.rsplit(":", 1)[1],
    }
    command = [sys.executable, "-m", "local_stack.invoke", "FundersFunction"]
    for event, status in (("put_funder_linked.json", 200), ("get_funder.json", 200)):
        result = subprocess.run(
            [*command, f"events/funders/{event}"],
            env=environment,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        response = json.loads(result.stdout)
        assert response["statusCode"] == status, response
        assert json.loads(response["body"])["stripe_customer_id"] == "cus_LocalDemoAcme"


def new_customer(stack: LocalStackProcess, name: str) -> str:
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": stack.stripe_url})
    return str(client.v1.customers.create({"name": name}).id)


def test_one_click_subscription_over_http(stack: LocalStackProcess) -> None:
    """The catalog bootstrapped at start is enough for the one-click path."""
    base = f"{stack.api_url}/funders/sub-demo"
    customer = new_customer(stack, "Sub Demo")
    status, _ = call_json("PUT", base, {"name": "Sub Demo", "stripe_customer_id": customer, "seats": 4})
    assert status == 200
    request = urllib.request.Request(
        f"{base}/subscription",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": "e2e-click-1"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        created = json.loads(response.read())
    assert created["first_invoice"]["status"] == "draft"
    assert created["first_invoice"]["amount_due"] == 4 * 3500

    status, funder = call_json("GET", base)
    assert funder["subscription"]["subscription_id"] == created["subscription_id"]
    status, body = call_json("PATCH", f"{base}/subscription", {"seats": 5})
    assert (status, body["error"]["code"]) == (409, "first_invoice_pending_review")
    status, body = call_json("POST", f"{base}/subscription", {})
    assert (status, body["error"]["code"]) == (409, "subscription_exists")


def test_a_new_subscription_reaches_finance_through_webhooks(stack: LocalStackProcess) -> None:
    """Emulator event -> signed webhook -> store -> SQS -> processor -> SNS -> the local inbox queue."""
    inbox_line = next(line for line in stack.stdout_lines if "(FinanceTopic;" in line)
    inbox_url = inbox_line.split()[2]
    base = f"{stack.api_url}/funders/webhook-demo"
    customer = new_customer(stack, "Webhook Clinic")
    assert call_json("PUT", base, {"name": "Webhook Clinic", "stripe_customer_id": customer})[0] == 200
    status, created = call_json("POST", f"{base}/subscription", {"seats": 2})
    assert status == 201, created

    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    invoice_id = created["first_invoice"]["id"]
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        received = sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        envelopes = [json.loads(message["Body"]) for message in received.get("Messages", [])]
        # Other tests of this module leave their own notices (a cancellation has no invoice of its own).
        found = [e for e in envelopes if json.loads(e["Message"]).get("invoice", {}).get("invoice_id") == invoice_id]
    assert found, "no Finance message arrived for the new subscription's first invoice"
    assert "Webhook Clinic" in found[0]["Subject"]
    assert found[0]["MessageAttributes"]["event_type"]["Value"] == "invoice.review_requested"
    approve_url = json.loads(found[0]["Message"])["approve_url"]
    assert approve_url == f"{stack.api_url}/invoices/{invoice_id}/approve"  # the local API, not AWS


def test_usage_is_reported_by_the_stream_worker(stack: LocalStackProcess) -> None:
    """POST usage -> UsageTable stream (polled by the stack) -> reporter -> Stripe meter events."""
    base = f"{stack.api_url}/funders/usage-demo"
    customer = new_customer(stack, "Usage Clinic")
    assert call_json("PUT", base, {"name": "Usage Clinic", "stripe_customer_id": customer})[0] == 200
    assert call_json("POST", f"{base}/subscription", {})[0] == 201
    time.sleep(1.5)  # usage after the subscription's start (Stripe times have whole seconds)
    occurred = datetime.now(UTC).isoformat()
    for i in range(3):
        status, body = call_json(
            "POST", f"{base}/usage", {"usage_id": f"e2e-{i}", "kind": "case", "quantity": 2, "occurred_at": occurred}
        )
        assert status == 202, body
    deadline = time.monotonic() + 30
    totals: dict[str, Any] = {}
    while time.monotonic() < deadline:
        totals = call_json("GET", f"{base}/usage")[1]["totals"]["case"]
        if totals["reported"] == 6:
            break
        time.sleep(0.5)
    assert totals == {"recorded": 6, "reported": 6, "pending": 0, "failed": 0, "unbillable": 0}


def test_a_hanging_stripe_call_blocks_neither_other_routes_nor_the_workers(stack: LocalStackProcess) -> None:
    """Issue 11 §2: requests run concurrently, as on API Gateway + Lambda. While one subscription request waits
    on a hanging Stripe call, the funders route answers at once and the stream worker reports usage."""
    hang_seconds = 5.0
    base = f"{stack.api_url}/funders/busy-clinic"
    other = f"{stack.api_url}/funders/slow-clinic"
    for url, name in ((base, "Busy Clinic"), (other, "Slow Clinic")):
        assert call_json("PUT", url, {"name": name, "stripe_customer_id": new_customer(stack, name)})[0] == 200
    assert call_json("POST", f"{base}/subscription", {})[0] == 201
    # Warm instances: what is timed below is waiting on other requests, not cold starts.
    assert call_json("GET", base)[0] == 200
    assert call_json("POST", f"{base}/usage", _usage("busy-0"))[0] == 202
    # Subscriptions are created through a schedule (the first invoice is a draft for Finance to review).
    fault = {"path_prefix": "/v1/subscription_schedules", "method": "POST", "count": 1, "hang_seconds": hang_seconds}
    assert call_json("POST", f"{stack.stripe_url}/_emulator/faults", fault)[0] == 200

    with ThreadPoolExecutor(1) as pool:
        hanging = pool.submit(call_json, "POST", f"{other}/subscription", {})
        time.sleep(0.5)  # the subscription request is now waiting on Stripe
        started = time.monotonic()
        status, funder = call_json("GET", base)
        assert (status, funder["name"]) == (200, "Busy Clinic")
        assert time.monotonic() - started < hang_seconds / 3, "GET /funders waited for the hanging request"
        assert call_json("POST", f"{base}/usage", _usage("busy-1"))[0] == 202
        reported = 0
        while not hanging.done() and reported < 2:
            reported = call_json("GET", f"{base}/usage")[1]["totals"]["case"]["reported"]
            time.sleep(0.3)
        assert reported == 2, "the stream worker did not report usage while the subscription request hung"
        assert hanging.result()[0] == 201  # and the hanging request completes too


def _usage(usage_id: str) -> dict[str, Any]:
    return {"usage_id": usage_id, "kind": "case", "quantity": 1, "occurred_at": datetime.now(UTC).isoformat()}


def test_unknown_stripe_customer(stack: LocalStackProcess) -> None:
    status, body = call_json(
        "PUT", f"{stack.api_url}/funders/f2", {"name": "Beta", "stripe_customer_id": "cus_doesnotexist"}
    )
    assert status == 422, body
    assert body["error"]["code"] == "stripe_customer_not_found"
    assert body["error"]["message"]


def test_bad_json_is_a_422_with_an_error_code(stack: LocalStackProcess) -> None:
    status, body = call_json("PUT", f"{stack.api_url}/funders/f3", raw=b'{"name": "Acme",')
    assert status == 422, body
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["code"]


def test_unknown_funder_is_404(stack: LocalStackProcess) -> None:
    status, body = call_json("GET", f"{stack.api_url}/funders/nobody-here")
    assert status == 404, body
    assert body["error"]["code"] == "funder_not_found"


def test_unknown_route_is_api_gateways_403(stack: LocalStackProcess) -> None:
    status, body = call_json("GET", f"{stack.api_url}/nowhere")
    assert status == 403
    assert body["error"]["message"] == "Missing Authentication Token"  # shaped by the API's GatewayResponses


def test_a_link_is_in_the_funders_audit_trail_with_its_caller(stack: LocalStackProcess) -> None:
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": stack.stripe_url})
    customer = str(client.v1.customers.create({"name": "Audited Clinic"}).id)
    finance = "arn:aws:sts::123456789012:assumed-role/incytes-finance/finance-reviewer"
    request = urllib.request.Request(
        f"{stack.api_url}/funders/audited",
        data=json.dumps({"name": "Audited", "stripe_customer_id": customer}).encode(),
        method="PUT",
        headers={"X-Local-Caller-Arn": finance},  # SigV4 is not checked locally: the stack names this caller
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        request_id = response.headers["x-amzn-RequestId"]

    status, body = call_json("GET", f"{stack.api_url}/funders/audited/audit?limit=10")
    assert status == 200, body
    (entry,) = body["entries"]
    assert (entry["action"], entry["request_id"], entry["caller"]["user_arn"]) == ("funder.linked", request_id, finance)
    assert entry["stripe_request_ids"]
    assert body["next_cursor"] is None


def test_sigterm_stops_promptly_with_exit_0() -> None:
    process = LocalStackProcess().start()
    started = time.monotonic()
    code = process.stop(signal.SIGTERM)
    assert code == 0, process.output
    assert time.monotonic() - started < 10
