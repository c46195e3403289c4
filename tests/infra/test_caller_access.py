"""Who may call what (issue 11 §3), read from template.yaml itself: the exported caller policies grant inCytes
and Finance their own routes and nothing else, the API's resource policy admits the account's principals and
lets anyone reach only the Stripe webhook, and access logs name the caller of every request.

The policies are evaluated the way IAM does for `execute-api:Invoke` on a method ARN: an explicit Deny wins,
else some Allow must match; `*` in an ARN matches any characters, `/` included.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import conditional_items, template

REGION, ACCOUNT, API_ID, STAGE = "eu-west-1", "111122223333", "a1b2c3d4e5", "prod"
_SUBSTITUTIONS = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "BillingApi": API_ID,
    "Stage": STAGE,
}

# Every route the API serves, and who may call it. A new route fails the test until it is placed here (and in
# the policies): nobody gets a route by accident.
INCYTES, FINANCE = "inCytes", "Finance"
WHO_MAY_CALL: dict[tuple[str, str], set[str]] = {
    ("GET", "/funders/{funder_id}"): {INCYTES, FINANCE},
    ("PUT", "/funders/{funder_id}"): {INCYTES},
    ("POST", "/funders/{funder_id}/subscription"): {INCYTES},
    ("PUT", "/funders/{funder_id}/subscription"): {INCYTES},
    ("PATCH", "/funders/{funder_id}/subscription"): {INCYTES},
    ("DELETE", "/funders/{funder_id}/subscription"): {INCYTES},
    ("POST", "/funders/{funder_id}/usage"): {INCYTES},
    ("GET", "/funders/{funder_id}/usage"): {INCYTES, FINANCE},
    ("POST", "/usage"): {INCYTES},
    ("GET", "/invoices"): {FINANCE},
    ("GET", "/invoices/{invoice_id}"): {FINANCE},
    ("POST", "/invoices/{invoice_id}/approve"): {FINANCE},
    ("GET", "/funders/{funder_id}/audit"): {FINANCE},
    # Not a SigV4 route: Stripe signs its deliveries (see the resource policy test).
    ("POST", "/stripe/webhook"): set(),
}
POLICY_OF = {INCYTES: "InCytesCallerPolicy", FINANCE: "FinanceCallerPolicy"}


def _sub(value: Any) -> str:
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    assert isinstance(text, str), value
    return re.sub(r"\$\{([^}]+)\}", lambda m: _SUBSTITUTIONS[m.group(1)], text)


def _api_routes() -> set[tuple[str, str]]:
    routes = set()
    for resource in template()["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                routes.add((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return routes


def _method_arn(method: str, path: str) -> str:
    concrete = re.sub(r"\{[^}]+\}", "x_1", path)  # a path parameter's value: one segment
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{method}{concrete}"


def _matches(pattern: str, arn: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def _allows(policy_logical_id: str, arn: str) -> bool:
    document = template()["Resources"][policy_logical_id]["Properties"]["PolicyDocument"]
    verdict = False
    for statement in document["Statement"]:
        assert statement["Action"] == "execute-api:Invoke", statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(_matches(_sub(resource), arn) for resource in resources):
            if statement["Effect"] == "Deny":
                return False
            verdict = True
    return verdict


def test_every_route_is_placed():
    assert _api_routes() == set(WHO_MAY_CALL)


@pytest.mark.parametrize(("method", "path"), sorted(WHO_MAY_CALL))
@pytest.mark.parametrize("caller", [INCYTES, FINANCE])
def test_caller_policy_grants_exactly_its_routes(caller: str, method: str, path: str) -> None:
    expected = caller in WHO_MAY_CALL[(method, path)]
    assert _allows(POLICY_OF[caller], _method_arn(method, path)) is expected, (caller, method, path)


def test_policies_grant_nothing_on_other_stages_or_apis():
    for policy in POLICY_OF.values():
        assert not _allows(policy, f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/dev/GET/funders/x_1")
        assert not _allows(policy, f"arn:aws:execute-api:{REGION}:{ACCOUNT}:zzzzzzzzzz/{STAGE}/GET/funders/x_1")


def test_caller_policies_are_exported():
    outputs = template()["Outputs"]
    for policy in POLICY_OF.values():
        output = outputs[f"{policy}Arn"]
        assert output["Value"] == {"Ref": policy}
        assert "Export" in output


def _resource_policy() -> list[dict[str, Any]]:
    api = template()["Resources"]["BillingApi"]["Properties"]
    statements: list[dict[str, Any]] = conditional_items(template(), api["Auth"]["ResourcePolicy"]["CustomStatements"])
    return statements


def test_resource_policy_admits_only_named_accounts_to_the_iam_routes():
    (iam_routes,) = [s for s in _resource_policy() if _sub(s["Resource"]) == f"execute-api:/{STAGE}/*"]
    assert iam_routes["Effect"] == "Allow"
    principal = json.dumps(iam_routes["Principal"])
    assert "AWS::AccountId" in principal
    assert "ApiCallerAccountIds" in principal
    assert iam_routes["Principal"] != "*"


def test_resource_policy_opens_only_the_webhook_to_anyone():
    public = [s for s in _resource_policy() if s["Principal"] == "*"]
    assert [_sub(s["Resource"]) for s in public] == [f"execute-api:/{STAGE}/POST/stripe/webhook"]
    webhook_auth = template()["Resources"]["WebhookFunction"]["Properties"]["Events"]["StripeWebhook"]
    assert webhook_auth["Properties"]["Auth"]["Authorizer"] == "NONE"


def test_access_log_names_caller_request_and_status():
    api = template()["Resources"]["BillingApi"]["Properties"]
    fields = json.loads(api["AccessLogSetting"]["Format"])
    assert fields["userArn"] == "$context.identity.userArn"
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    log_group = template()["Resources"]["ApiAccessLogGroup"]
    assert log_group["DeletionPolicy"] == "Retain"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}


def test_access_logs_wait_for_the_account_logging_role_when_the_stack_sets_it():
    resources = template()["Resources"]
    assert resources["ApiGatewayAccount"]["Condition"] == "CreatesApiGatewayLogsRole"
    assert resources["ApiGatewayAccount"]["DeletionPolicy"] == "Retain"
    variables = json.dumps(resources["BillingApi"]["Properties"]["Variables"])
    assert '"Ref": "ApiGatewayAccount"' in variables
