"""What each template function is allowed to do on AWS, and what it actually asks of AWS (imported as
`tests.iam_grants`).

`granted_permissions` expands a function's `Policies` (explicit statements, and the SAM policy templates listed
in `SAM_POLICY_TEMPLATES`) into (action, resource ARN pattern) pairs, resolved against the resources the tests
create from the template. `recorded_aws_calls` records every boto3 call made on the current thread, and
`ungranted_calls` names those no grant covers: the `invoke` fixture checks every handler invocation with them,
so a handler test fails when the code needs a permission the template does not give.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from unittest import mock

from botocore.client import BaseClient

from local_stack.template.document import Template
from local_stack.template.intrinsics import StackResources, resolver_for
from tests.support import conditional_items


def _sam_arn(service: str, resource: str, parameter: str) -> dict[str, Any]:
    """A SAM definition's resource: `${v}` in `resource` is the template's parameter `parameter`."""
    arn = f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"
    return {"Fn::Sub": [arn, {"v": {"Ref": parameter}}]}


_DYNAMODB_TABLE_AND_INDEXES = [
    _sam_arn("dynamodb", "table/${v}", "TableName"),
    _sam_arn("dynamodb", "table/${v}/index/*", "TableName"),
]

# The SAM policy templates the template uses or used, as SAM defines them (aws/serverless-application-model,
# samtranslator/policy_templates_data/policy_templates.json). A template not listed here fails the expansion:
# add its definition rather than guess.
SAM_POLICY_TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "DynamoDBCrudPolicy": [
        {
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ],
            "Resource": _DYNAMODB_TABLE_AND_INDEXES,
        }
    ],
    "DynamoDBReadPolicy": [
        {
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
            ],
            "Resource": _DYNAMODB_TABLE_AND_INDEXES,
        }
    ],
    "DynamoDBWritePolicy": [
        {
            "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
            "Resource": _DYNAMODB_TABLE_AND_INDEXES,
        }
    ],
    "SSMParameterReadPolicy": [
        {"Action": ["ssm:DescribeParameters"], "Resource": "*"},
        {
            "Action": ["ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"],
            "Resource": _sam_arn("ssm", "parameter/${v}", "ParameterName"),
        },
    ],
    "SQSSendMessagePolicy": [
        {
            "Action": ["sqs:SendMessage*"],
            "Resource": _sam_arn("sqs", "${v}", "QueueName"),
        }
    ],
    "SNSPublishMessagePolicy": [
        {
            "Action": ["sns:Publish"],
            "Resource": _sam_arn("sns", "${v}", "TopicName"),
        }
    ],
}


@dataclass(frozen=True, slots=True)
class Grant:
    action: str  # as written: "dynamodb:GetItem", may hold IAM wildcards
    resource: str  # a resolved ARN pattern, or "*"

    def covers(self, action: str, resource: str) -> bool:
        return fnmatchcase(action.lower(), self.action.lower()) and fnmatchcase(resource, self.resource)


@dataclass(frozen=True, slots=True)
class AwsCall:
    action: str  # "dynamodb:GetItem"
    resources: tuple[str, ...]  # the ARNs IAM authorizes the call on


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _substitute_refs(value: Any, arguments: Mapping[str, Any]) -> Any:
    """A SAM template's definition with its own parameters (`Ref: TableName`) replaced by the given values."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in arguments:
            return copy.deepcopy(arguments[value["Ref"]])
        return {key: _substitute_refs(item, arguments) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute_refs(item, arguments) for item in value]
    return value


def policy_statements(
    template: Template, logical_id: str, parameter_overrides: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The function's `Policies` as IAM statements (SAM templates expanded, conditional statements chosen for these
    parameters), intrinsics otherwise unresolved."""
    policies = template["Resources"][logical_id]["Properties"].get("Policies") or []
    statements: list[dict[str, Any]] = []
    for policy in _as_list(policies):
        if not isinstance(policy, dict):
            raise ValueError(f"{logical_id}: managed policy {policy!r} is not checked here; use statements")
        for name, arguments in policy.items():
            if name == "Statement":
                statements.extend(conditional_items(template, _as_list(arguments), parameter_overrides))
            elif name in SAM_POLICY_TEMPLATES:
                definition = SAM_POLICY_TEMPLATES[name]
                statements.extend({"Effect": "Allow", **_substitute_refs(s, arguments)} for s in definition)
            elif name != "Version":
                raise ValueError(f"{logical_id}: unknown policy template {name} (add it to SAM_POLICY_TEMPLATES)")
    return statements


def granted_permissions(
    template: Template,
    logical_id: str,
    resources: StackResources,
    parameter_overrides: Mapping[str, Any] | None = None,
) -> list[Grant]:
    """(action, resource) pairs the function's own `Policies` allow, resolved against created `resources`."""
    resolver = resolver_for(template, resources, parameter_overrides)
    grants = []
    for statement in policy_statements(template, logical_id, parameter_overrides):
        unsupported = set(statement) - {"Sid", "Effect", "Action", "Resource"}
        if statement.get("Effect") != "Allow" or unsupported:
            raise ValueError(f"{logical_id}: only plain Allow statements are checked, not {statement}")
        for action in _as_list(statement["Action"]):
            for resource in _as_list(resolver.resolve(statement["Resource"])):
                grants.append(Grant(str(action), str(resource)))
    return grants


class _Recorder(threading.local):
    calls: list[AwsCall] | None = None
    account_id = ""


_recorder = _Recorder()
_make_api_call = BaseClient._make_api_call  # type: ignore[attr-defined]  # botocore-stubs leave it out


def _recording_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    if _recorder.calls is not None:
        _recorder.calls.extend(_aws_calls(client, operation_name, api_params))
    return _make_api_call(client, operation_name, api_params)


@contextmanager
def recorded_aws_calls(account_id: str) -> Iterator[list[AwsCall]]:
    """Every boto3 call this thread makes inside the block (other threads, e.g. the emulator's, are not seen),
    with ARNs in `account_id`."""
    calls: list[AwsCall] = []
    outer = (_recorder.calls, _recorder.account_id)
    _recorder.calls, _recorder.account_id = calls, account_id
    try:
        with mock.patch.object(BaseClient, "_make_api_call", _recording_api_call):
            yield calls
    finally:
        _recorder.calls, _recorder.account_id = outer


# A transaction is authorized item by item, each with the action of its kind.
_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
UNMAPPED = "(no resource mapping in tests/iam_grants.py)"


def _aws_calls(client: BaseClient, operation: str, params: Mapping[str, Any]) -> list[AwsCall]:
    """The IAM actions and resource ARNs one API call needs (the services and parameters this project uses; any
    other call is recorded on UNMAPPED, which no grant covers, so the check names it instead of passing)."""
    service = client.meta.service_model.signing_name
    region, account = client.meta.region_name, _recorder.account_id

    def table_arn(body: Mapping[str, Any]) -> str:
        index = f"/index/{body['IndexName']}" if body.get("IndexName") else ""
        return f"arn:aws:dynamodb:{region}:{account}:table/{body['TableName']}{index}"

    if service == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            AwsCall(f"dynamodb:{_TRANSACTION_ACTIONS.get(kind, 'GetItem')}", (table_arn(body),))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if service == "dynamodb" and operation in ("BatchGetItem", "BatchWriteItem"):
        arns = [table_arn({"TableName": table}) for table in params["RequestItems"]]
    elif service == "dynamodb" and "TableName" in params:
        arns = [table_arn(params)]
    elif service == "sqs" and "QueueUrl" in params:
        arns = [f"arn:aws:sqs:{region}:{account}:{str(params['QueueUrl']).rstrip('/').rsplit('/', 1)[-1]}"]
    elif service == "sns" and "TopicArn" in params:
        arns = [str(params["TopicArn"])]
    elif service == "ssm" and ("Name" in params or "Names" in params):
        names = params["Names"] if "Names" in params else [params["Name"]]
        arns = [f"arn:aws:ssm:{region}:{account}:parameter/{str(name).lstrip('/')}" for name in names]
    elif service == "s3" and "Bucket" in params:
        arns = [f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if "Key" in params else "")]
    else:
        arns = [UNMAPPED]
    return [AwsCall(f"{service}:{operation}", tuple(arns))]


def ungranted_calls(calls: list[AwsCall], grants: list[Grant]) -> list[str]:
    """`action on resource` for each call resource no grant covers."""
    missing = {
        f"{call.action} on {arn}"
        for call in calls
        for arn in call.resources
        if not any(grant.covers(call.action, arn) for grant in grants)
    }
    return sorted(missing)
