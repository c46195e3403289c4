"""template.yaml's audit trail (issue 11 §3): the table keeps its data, the writers may only add to it, Finance's
function reads it on its route, and a failed write raises an alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_stack.template.api import api_routes
from tests.support import TEMPLATE_PATH, template

AUDIT_TABLE_ARN = {"Fn::GetAtt": ["AuditTable", "Arn"]}
# The functions that record billing actions, and what each may do on the AuditTable.
AUDIT_ACCESS = {
    "FundersFunction": ["dynamodb:PutItem"],
    "SubscriptionsFunction": ["dynamodb:PutItem"],
    "UsageFunction": ["dynamodb:PutItem"],
    "InvoicesFunction": ["dynamodb:PutItem", "dynamodb:Query"],  # approvals; GET /funders/{id}/audit
}


def resources() -> dict[str, Any]:
    found: dict[str, Any] = template()["Resources"]
    return found


def test_the_audit_table_keeps_its_data_sorted_by_time_per_funder() -> None:
    table = resources()["AuditTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "funder_id", "KeyType": "HASH"},
        {"AttributeName": "entry_key", "KeyType": "RANGE"},  # recorded_at#request_id
    ]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def audit_policies(function: dict[str, Any]) -> list[Any]:
    """The function's policies that name the AuditTable (a policy template or a statement)."""
    return [policy for policy in function["Properties"].get("Policies", []) if "AuditTable" in json.dumps(policy)]


@pytest.mark.parametrize("function_id", sorted(AUDIT_ACCESS))
def test_each_writer_has_its_own_statement_with_only_what_it_needs(function_id: str) -> None:
    function = resources()[function_id]
    (policy,) = audit_policies(function)
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == AUDIT_TABLE_ARN
    granted = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    assert granted == AUDIT_ACCESS[function_id]
    assert function["Properties"]["Environment"]["Variables"]["AUDIT_TABLE_NAME"] == {"Ref": "AuditTable"}


def test_no_other_function_touches_the_audit_table() -> None:
    for logical_id, resource in resources().items():
        if resource["Type"] == "AWS::Serverless::Function" and logical_id not in AUDIT_ACCESS:
            assert "AuditTable" not in json.dumps(resource["Properties"]), logical_id


def test_the_audit_statements_are_marked_for_merging() -> None:
    # Policies of other functions are rewritten in parallel: the audit statements stay apart, commented.
    assert TEMPLATE_PATH.read_text().count("- Statement:  # audit trail") == len(AUDIT_ACCESS)


def test_finance_reads_the_trail_on_its_route() -> None:
    routes = {(route.method, route.path_template): route for route in api_routes(template())}
    route = routes["GET", "/funders/{funder_id}/audit"]
    assert (route.function_logical_id, route.auth) == ("InvoicesFunction", "AWS_IAM")


def test_a_failed_audit_write_raises_an_alarm() -> None:
    alarm = resources()["AuditWriteFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("InCytesBilling", "AuditWriteFailed")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "incytes-billing"}]  # as Powertools publishes it
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert "AlarmActions" in alarm
