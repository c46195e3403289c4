"""template.yaml as the single source of truth for local and test infrastructure.

Everything the local stack and the tests need to know about the deployment is read from the SAM template:

- `load_template`         parses YAML with CloudFormation short tags (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...),
                          turning them into their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`, ...).
- `create_aws_resources`  creates the template's DynamoDB tables, SNS topics (and subscriptions) and SQS queues
                          through whatever boto3 endpoint is configured: moto's in-process `mock_aws` in tests,
                          moto server in `make local`. Other resource types (functions, layers, APIs, IAM,
                          policies) are skipped.
- `function_environment`  a function's environment variables (Globals merged with its own), intrinsics resolved.
- `api_routes`            the REST routes declared by functions' `Events` of `Type: Api`.
- `api_settings`          a REST API's stage, binary media types and gateway responses.
- `load_handler`          imports a function's handler from its `CodeUri` by file path.

The intrinsic functions supported are those CloudFormation resolves at deploy time and that make sense without
an AWS account: Ref (parameters, pseudo parameters, resources), Fn::Sub, Fn::GetAtt, Fn::If, Fn::Equals,
Fn::And, Fn::Or, Fn::Not, Condition, Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap, Fn::Base64, Fn::GetAZs,
Fn::Length and Fn::ToJsonString. Fn::ImportValue, Fn::Cidr and Fn::Transform raise `TemplateError`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LOG = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
# moto's default account: ARNs we compute match the ones moto hands out.
DEFAULT_ACCOUNT_ID = "123456789012"
# SAM's implicit API (functions' Api events without RestApiId) and its stage name.
IMPLICIT_API_ID = "ServerlessRestApi"
IMPLICIT_API_STAGE = "Prod"

Template = dict[str, Any]
Handler = Callable[[dict[str, Any], Any], Any]


class TemplateError(Exception):
    """The template asks for something this local stack cannot do (or is itself invalid)."""


# --------------------------------------------------------------------------------------------------------------
# YAML with CloudFormation short tags
# --------------------------------------------------------------------------------------------------------------


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that understands CloudFormation's short-form intrinsic function tags."""


def _construct_any(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {type(node).__name__}", node.start_mark)


def _function_tag(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _construct_any(loader, node)}

    return construct


def _ref_tag(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct_any(loader, node)}


def _condition_tag(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _construct_any(loader, node)}


def _get_att_tag(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_any(loader, node)
    if isinstance(value, str):
        # "Resource.Attribute" (attributes may themselves hold dots: "Db.Endpoint.Address").
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


_FUNCTION_TAGS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
)
for _name in _FUNCTION_TAGS:
    CloudFormationLoader.add_constructor(f"!{_name}", _function_tag(_name))
CloudFormationLoader.add_constructor("!Ref", _ref_tag)
CloudFormationLoader.add_constructor("!Condition", _condition_tag)
CloudFormationLoader.add_constructor("!GetAtt", _get_att_tag)


def parse_template(text: str) -> Template:
    document = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError("not a CloudFormation template: no Resources mapping")
    return document


def load_template(path: str | Path) -> Template:
    return parse_template(Path(path).read_text(encoding="utf-8"))


def _as_template(template: Template | str | Path) -> Template:
    return template if isinstance(template, dict) else load_template(template)


# --------------------------------------------------------------------------------------------------------------
# Parameters, conditions, intrinsic functions
# --------------------------------------------------------------------------------------------------------------


def resolve_parameters(template: Template, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each template parameter's value: the override, else its Default (validated like CloudFormation)."""
    template = _as_template(template)
    declared: dict[str, Any] = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"parameter override(s) not declared in the template: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default: pass it as an override")
        value = _scalar_string(raw, what=f"parameter {name}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [_scalar_string(a, what=name) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
        kind = str(spec.get("Type", "String"))
        values[name] = (
            [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" or kind.startswith("List<") else value
        )
    return values


def _scalar_string(value: Any, *, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(_scalar_string(v, what=what) for v in value)
    raise TemplateError(f"{what}: expected a string, got {type(value).__name__}")


class StackResources(dict[str, str]):
    """Logical id → the value of its `Ref` (table name, topic ARN, queue URL, ...), plus `Fn::GetAtt` attributes.

    It is a plain `dict[str, str]` to its users (`resources["FundersTable"]` is the physical table name); the
    `attributes` (`resources.attributes["FundersTable"]["StreamArn"]`), `types`, `region`, `account_id` and
    `stack_name` let the same object resolve every intrinsic function that names a created resource.
    """

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        stack_name: str = "local",
    ) -> None:
        super().__init__()
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self.types: dict[str, str] = {}
        self.attributes: dict[str, dict[str, str]] = {}

    def record(self, logical_id: str, resource_type: str, ref: str, **attributes: str) -> None:
        self[logical_id] = ref
        self.types[logical_id] = resource_type
        self.attributes[logical_id] = dict(attributes)


_NO_VALUE: Any = object()  # AWS::NoValue: the enclosing property or list item disappears


class _Resolver:
    """Resolves intrinsic functions against parameters, pseudo parameters and (created) resources."""

    def __init__(
        self,
        template: Template,
        parameters: Mapping[str, Any],
        resources: Mapping[str, str],
        *,
        region: str,
        account_id: str,
        stack_name: str,
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.resources = resources
        self.region = region
        self.account_id = account_id
        self.stack_name = stack_name
        self._conditions: dict[str, bool] = {}

    # -- entry points
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self.ref(str(argument))
                if key == "Condition" and isinstance(argument, str):
                    return self.condition(argument)
                if key.startswith("Fn::"):
                    return self._function(key, argument)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resource_enabled(self, logical_id: str) -> bool:
        condition = (self.template["Resources"][logical_id] or {}).get("Condition")
        return condition is None or self.condition(condition)

    # -- Ref and GetAtt
    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                "00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name]
        resource = (self.template.get("Resources") or {}).get(name)
        if resource is None:
            raise TemplateError(f"Ref to unknown parameter or resource {name!r}")
        return self._default_ref(name, resource.get("Type", ""))

    def _default_ref(self, logical_id: str, resource_type: str) -> str:
        """Ref of a resource the local stack does not create (functions, layers, APIs, ...)."""
        name = f"{self.stack_name}-{logical_id}"
        if resource_type in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"
        if resource_type in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
            return local_api_id(logical_id)
        if resource_type == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account_id}:{name}"
        return name

    def get_att(self, logical_id: str, attribute: str) -> Any:
        attributes = getattr(self.resources, "attributes", {}).get(logical_id, {})
        if attribute in attributes:
            return attributes[attribute]
        resources = self.template.get("Resources") or {}
        if logical_id not in resources:
            raise TemplateError(f"Fn::GetAtt on unknown resource {logical_id!r}")
        resource_type = getattr(self.resources, "types", {}).get(logical_id) or resources[logical_id].get("Type")
        ref = self.ref(logical_id)
        region, account = self.region, self.account_id
        computed: dict[str, dict[str, Callable[[], str]]] = {
            "AWS::DynamoDB::Table": {"Arn": lambda: f"arn:aws:dynamodb:{region}:{account}:table/{ref}"},
            "AWS::Serverless::SimpleTable": {"Arn": lambda: f"arn:aws:dynamodb:{region}:{account}:table/{ref}"},
            "AWS::SQS::Queue": {
                "Arn": lambda: f"arn:aws:sqs:{region}:{account}:{ref.rsplit('/', 1)[-1]}",
                "QueueName": lambda: ref.rsplit("/", 1)[-1],
                "QueueUrl": lambda: ref,
            },
            "AWS::SNS::Topic": {"TopicArn": lambda: ref, "TopicName": lambda: ref.rsplit(":", 1)[-1]},
            "AWS::Serverless::Function": {"Arn": lambda: f"arn:aws:lambda:{region}:{account}:function:{ref}"},
            "AWS::Lambda::Function": {"Arn": lambda: f"arn:aws:lambda:{region}:{account}:function:{ref}"},
            "AWS::Logs::LogGroup": {"Arn": lambda: f"arn:aws:logs:{region}:{account}:log-group:{ref}:*"},
            "AWS::IAM::Role": {"Arn": lambda: f"arn:aws:iam::{account}:role/{ref}"},
        }
        getter = computed.get(str(resource_type), {}).get(attribute)
        if getter is None:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute} ({resource_type}) is not known locally"
                + (" until the resource is created" if attribute == "StreamArn" else "")
            )
        return getter()

    # -- Fn::*
    def _function(self, key: str, argument: Any) -> Any:
        name = key.removeprefix("Fn::")
        method = getattr(self, f"_fn_{name.lower()}", None)
        if method is None:
            raise TemplateError(f"intrinsic function {key} is not supported by the local stack")
        return method(argument)

    def _fn_getatt(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self.resolve(part) for part in argument)
        return self.get_att(str(logical_id), str(attribute))

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1] if len(argument) > 1 else {})
        else:
            text, variables = argument, {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                value = self.get_att(*name.split(".", 1))
            else:
                value = self.ref(name)
            if value is _NO_VALUE or isinstance(value, list | dict):
                raise TemplateError(f"Fn::Sub variable {name} is not a string")
            return _scalar_string(value, what=f"Fn::Sub ${{{name}}}")

        return re.sub(r"\$\{([^}]*)\}", substitute, str(text))

    def _fn_if(self, argument: Any) -> Any:
        condition, if_true, if_false = argument
        return self.resolve(if_true if self.condition(str(condition)) else if_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self.resolve(v) for v in argument)
        return _scalar_string(left, what="Fn::Equals") == _scalar_string(right, what="Fn::Equals")

    def _fn_and(self, argument: Any) -> bool:
        return all(bool(self.resolve(v)) for v in argument)

    def _fn_or(self, argument: Any) -> bool:
        return any(bool(self.resolve(v)) for v in argument)

    def _fn_not(self, argument: Any) -> bool:
        return not bool(self.resolve(argument[0]))

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        items = self.resolve(items)
        return str(delimiter).join(_scalar_string(i, what="Fn::Join") for i in items)

    def _fn_select(self, argument: Any) -> Any:
        index, items = self.resolve(argument[0]), self.resolve(argument[1])
        try:
            return items[int(index)]
        except (IndexError, ValueError, TypeError) as error:
            raise TemplateError(f"Fn::Select index {index!r} out of {items!r}") from error

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(str(delimiter))

    def _fn_findinmap(self, argument: Any) -> Any:
        parts = [self.resolve(v) for v in argument[:3]]
        mappings = self.template.get("Mappings") or {}
        try:
            return mappings[parts[0]][parts[1]][parts[2]]
        except (KeyError, TypeError) as error:
            if len(argument) > 3 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
                return self.resolve(argument[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap {parts} not found") from error

    def _fn_base64(self, argument: Any) -> str:
        return base64.b64encode(str(self.resolve(argument)).encode()).decode()

    def _fn_getazs(self, argument: Any) -> list[str]:
        region = self.resolve(argument) or self.region
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_length(self, argument: Any) -> int:
        return len(self.resolve(argument))

    def _fn_tojsonstring(self, argument: Any) -> str:
        return json.dumps(self.resolve(argument), separators=(",", ":"))


def _resolver(
    template: Template,
    resources: Mapping[str, str],
    parameter_overrides: Mapping[str, Any] | None,
    *,
    region: str | None = None,
    account_id: str | None = None,
    stack_name: str | None = None,
) -> _Resolver:
    return _Resolver(
        template,
        resolve_parameters(template, parameter_overrides),
        resources,
        region=region or getattr(resources, "region", None) or DEFAULT_REGION,
        account_id=account_id or getattr(resources, "account_id", None) or DEFAULT_ACCOUNT_ID,
        stack_name=stack_name or getattr(resources, "stack_name", None) or "local",
    )


def local_api_id(logical_id: str) -> str:
    """A stable, API-Gateway-looking id (10 lowercase alphanumerics) for a template API."""
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]


# --------------------------------------------------------------------------------------------------------------
# AWS resources
# --------------------------------------------------------------------------------------------------------------

SUPPORTED_RESOURCE_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::Serverless::SimpleTable",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
)
_SERVICE_OF = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::Serverless::SimpleTable": "dynamodb",
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS::Topic": "sns",
    "AWS::SNS::Subscription": "sns",
}


@dataclass
class _Clients:
    source: Any
    cache: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        if service not in self.cache:
            if isinstance(self.source, Mapping):
                if service not in self.source:
                    raise TemplateError(f"no boto3 {service} client given to create_aws_resources")
                self.cache[service] = self.source[service]
            elif self.source is None:
                import boto3  # noqa: PLC0415 - only when no session or clients are given

                self.cache[service] = boto3.client(service)  # type: ignore[call-overload]
            else:
                self.cache[service] = self.source.client(service)
        return self.cache[service]

    def region(self) -> str:
        if isinstance(self.source, Mapping):
            for client in self.source.values():
                return str(client.meta.region_name)
            return DEFAULT_REGION
        if self.source is None:
            import boto3  # noqa: PLC0415

            return boto3.session.Session().region_name or DEFAULT_REGION
        return str(self.source.region_name or DEFAULT_REGION)


def create_aws_resources(
    template: Template | str | Path,
    *,
    session_or_clients: Any = None,
    prefix: str,
    parameter_overrides: Mapping[str, Any] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> StackResources:
    """Create the template's tables, topics, subscriptions and queues; answer logical id → physical id.

    `session_or_clients` is a `boto3.Session`, a mapping of service name → boto3 client, or None for boto3's
    default clients; whichever endpoint they talk to (moto's `mock_aws`, moto server) gets the resources.
    Physical names are the template's (`TableName`, `QueueName`, `TopicName`) when it sets them, else
    `<prefix>-<LogicalId>` (CloudFormation adds a random suffix; locally names are stable). `prefix` is also
    `AWS::StackName`. Creating what already exists (same name) reuses it. Resources whose `Condition` is false
    are skipped, like CloudFormation does.
    """
    template = _as_template(template)
    clients = _Clients(session_or_clients)
    resources = StackResources(region=clients.region(), account_id=account_id, stack_name=prefix)
    resolver = _resolver(template, resources, parameter_overrides)
    definitions = template["Resources"]
    wanted = [
        logical_id
        for logical_id, resource in definitions.items()
        if (resource or {}).get("Type") in SUPPORTED_RESOURCE_TYPES and resolver.resource_enabled(logical_id)
    ]
    skipped = sorted({str((r or {}).get("Type")) for r in definitions.values()} - set(SUPPORTED_RESOURCE_TYPES))
    LOG.debug("not created locally (types): %s", ", ".join(skipped))
    for logical_id in _creation_order(definitions, wanted):
        resource = definitions[logical_id]
        properties = resolver.resolve(resource.get("Properties") or {})
        creator = _CREATORS[resource["Type"]]
        creator(clients(_SERVICE_OF[resource["Type"]]), resources, logical_id, properties, prefix)
        LOG.debug("created %s %s = %s", resource["Type"], logical_id, resources.get(logical_id))
    return resources


def _references(value: Any) -> Iterator[str]:
    """Logical ids (or parameter names) an expression refers to."""
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                yield argument
            elif key == "Fn::GetAtt":
                target = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
                if isinstance(target, str):
                    yield target
            elif key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) else argument
                if isinstance(text, str):
                    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                        yield name.split(".", 1)[0].strip()
                if isinstance(argument, list) and len(argument) > 1:
                    yield from _references(argument[1])
            else:
                yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _creation_order(definitions: Mapping[str, Any], wanted: list[str]) -> list[str]:
    wanted_set = set(wanted)
    depends: dict[str, set[str]] = {}
    for logical_id in wanted:
        resource = definitions[logical_id]
        explicit = resource.get("DependsOn") or []
        explicit = [explicit] if isinstance(explicit, str) else explicit
        refs = set(_references(resource.get("Properties") or {})) | set(explicit)
        depends[logical_id] = (refs & wanted_set) - {logical_id}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(wanted):
        ready = [lid for lid in wanted if lid not in done and depends[lid] <= done]
        if not ready:
            cycle = sorted(set(wanted) - done)
            raise TemplateError(f"circular dependency between {', '.join(cycle)}")
        for logical_id in ready:
            order.append(logical_id)
            done.add(logical_id)
    return order


def _client_error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _throughput(value: Any, what: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise TemplateError(f"{what}: ProvisionedThroughput is required with BillingMode PROVISIONED")
    return {
        "ReadCapacityUnits": int(value["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(value["WriteCapacityUnits"]),
    }


def _tags(value: Any) -> list[dict[str, str]]:
    if isinstance(value, dict):  # SAM style: {Key: Value}
        return [{"Key": str(k), "Value": str(v)} for k, v in value.items()]
    return [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in value or []]


_TABLE_IGNORED = (
    "ContributorInsightsSpecification",
    "ImportSourceSpecification",
    "KinesisStreamSpecification",
    "OnDemandThroughput",
    "ResourcePolicy",
    "WarmThroughput",
)


def dynamodb_create_table_request(table_name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """`AWS::DynamoDB::Table` Properties → the equivalent boto3 `create_table` keyword arguments."""
    billing_mode = str(properties.get("BillingMode", "PROVISIONED"))
    provisioned = billing_mode == "PROVISIONED"
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": str(a["AttributeName"]), "AttributeType": str(a["AttributeType"])}
            for a in properties["AttributeDefinitions"]
        ],
        "KeySchema": [
            {"AttributeName": str(k["AttributeName"]), "KeyType": str(k["KeyType"])} for k in properties["KeySchema"]
        ],
        "BillingMode": billing_mode,
    }
    if provisioned:
        request["ProvisionedThroughput"] = _throughput(properties.get("ProvisionedThroughput"), table_name)

    def index(spec: Mapping[str, Any], *, global_index: bool) -> dict[str, Any]:
        projection: dict[str, Any] = {"ProjectionType": str(spec["Projection"].get("ProjectionType", "ALL"))}
        if spec["Projection"].get("NonKeyAttributes"):
            projection["NonKeyAttributes"] = [str(a) for a in spec["Projection"]["NonKeyAttributes"]]
        result: dict[str, Any] = {
            "IndexName": str(spec["IndexName"]),
            "KeySchema": [
                {"AttributeName": str(k["AttributeName"]), "KeyType": str(k["KeyType"])} for k in spec["KeySchema"]
            ],
            "Projection": projection,
        }
        if global_index and provisioned:
            result["ProvisionedThroughput"] = _throughput(spec.get("ProvisionedThroughput"), spec["IndexName"])
        return result

    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [index(s, global_index=True) for s in properties["GlobalSecondaryIndexes"]]
    if properties.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [index(s, global_index=False) for s in properties["LocalSecondaryIndexes"]]
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": str(stream["StreamViewType"])}
    sse = properties.get("SSESpecification")
    if sse:
        spec: dict[str, Any] = {"Enabled": _flag(sse.get("SSEEnabled", False))}
        if sse.get("SSEType"):
            spec["SSEType"] = str(sse["SSEType"])
        if sse.get("KMSMasterKeyId"):
            spec["KMSMasterKeyId"] = str(sse["KMSMasterKeyId"])
        request["SSESpecification"] = spec
    if properties.get("TableClass"):
        request["TableClass"] = str(properties["TableClass"])
    if "DeletionProtectionEnabled" in properties:
        request["DeletionProtectionEnabled"] = _flag(properties["DeletionProtectionEnabled"])
    if properties.get("Tags"):
        request["Tags"] = _tags(properties["Tags"])
    for ignored in _TABLE_IGNORED:
        if ignored in properties:
            LOG.info("table %s: %s is not modelled locally (ignored)", table_name, ignored)
    return request


def _create_dynamodb_table(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    name = str(properties.get("TableName") or f"{prefix}-{logical_id}")
    request = dynamodb_create_table_request(name, properties)
    try:
        client.create_table(**request)
    except Exception as error:
        if _client_error_code(error) != "ResourceInUseException":
            raise
        LOG.info("table %s already exists: reused", name)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and _flag(ttl.get("Enabled", False)):
        current = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": str(ttl["AttributeName"])},
            )
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr and _flag(pitr.get("PointInTimeRecoveryEnabled", False)):
        try:
            client.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        except Exception as error:  # not essential locally
            LOG.info("table %s: point-in-time recovery not enabled locally (%s)", name, error)
    table = client.describe_table(TableName=name)["Table"]
    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    resources.record(logical_id, "AWS::DynamoDB::Table", name, **attributes)


def _create_simple_table(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[str(key.get("Type", "String"))]
    table: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        "BillingMode": "PROVISIONED" if properties.get("ProvisionedThroughput") else "PAY_PER_REQUEST",
    }
    for copied in ("TableName", "ProvisionedThroughput", "SSESpecification", "Tags"):
        if properties.get(copied):
            table[copied] = properties[copied]
    _create_dynamodb_table(client, resources, logical_id, table, prefix)
    resources.types[logical_id] = "AWS::Serverless::SimpleTable"


def _attribute_string(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return _scalar_string(value, what="attribute")


_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _create_sqs_queue(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    fifo = _flag(properties.get("FifoQueue", False))
    name = str(properties.get("QueueName") or f"{prefix}-{logical_id}{'.fifo' if fifo else ''}")
    attributes = {key: _attribute_string(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
    if fifo:
        attributes["FifoQueue"] = "true"
    request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if properties.get("Tags"):
        request["tags"] = {t["Key"]: t["Value"] for t in _tags(properties["Tags"])}
    url = client.create_queue(**request)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resources.record(logical_id, "AWS::SQS::Queue", url, Arn=arn, QueueName=name, QueueUrl=url)


_TOPIC_ATTRIBUTES = (
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DisplayName",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)
_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def _subscribe(client: Any, topic_arn: str, properties: Mapping[str, Any]) -> str | None:
    endpoint, protocol = properties.get("Endpoint"), str(properties["Protocol"])
    if not endpoint:
        LOG.info("SNS %s subscription to %s has no endpoint: skipped", protocol, topic_arn)
        return None
    attributes = {key: _attribute_string(properties[key]) for key in _SUBSCRIPTION_ATTRIBUTES if key in properties}
    response = client.subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=str(endpoint),
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


def _create_sns_topic(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    fifo = _flag(properties.get("FifoTopic", False))
    name = str(properties.get("TopicName") or f"{prefix}-{logical_id}{'.fifo' if fifo else ''}")
    attributes = {key: _attribute_string(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties}
    if fifo:
        attributes["FifoTopic"] = "true"
    request: dict[str, Any] = {"Name": name, "Attributes": attributes}
    if properties.get("Tags"):
        request["Tags"] = _tags(properties["Tags"])
    arn = str(client.create_topic(**request)["TopicArn"])
    for subscription in properties.get("Subscription") or []:
        _subscribe(client, arn, subscription)
    resources.record(logical_id, "AWS::SNS::Topic", arn, TopicArn=arn, TopicName=name)


def _create_sns_subscription(
    client: Any, resources: StackResources, logical_id: str, properties: dict[str, Any], prefix: str
) -> None:
    arn = _subscribe(client, str(properties["TopicArn"]), properties)
    if arn is not None:
        resources.record(logical_id, "AWS::SNS::Subscription", arn, Arn=arn)


_CREATORS: dict[str, Callable[[Any, StackResources, str, dict[str, Any], str], None]] = {
    "AWS::DynamoDB::Table": _create_dynamodb_table,
    "AWS::Serverless::SimpleTable": _create_simple_table,
    "AWS::SQS::Queue": _create_sqs_queue,
    "AWS::SNS::Topic": _create_sns_topic,
    "AWS::SNS::Subscription": _create_sns_subscription,
}


# --------------------------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------------------------

FUNCTION_TYPE = "AWS::Serverless::Function"


def _is_mergeable_map(value: Any) -> bool:
    """A map Globals merge into; an intrinsic function (`{"Ref": ...}`, `{"Fn::If": ...}`) is one value to SAM."""
    if not isinstance(value, dict):
        return False
    if len(value) == 1:
        (key,) = value
        return not (key in ("Ref", "Condition") or str(key).startswith("Fn::"))
    return True


def _merge_globals(global_value: Any, own_value: Any) -> Any:
    """SAM's Globals rule: maps merge (the function wins), lists concatenate (Globals first), scalars and intrinsic
    functions override."""
    if _is_mergeable_map(global_value) and _is_mergeable_map(own_value):
        merged = dict(global_value)
        for key, value in own_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(own_value, list):
        return global_value + own_value
    return own_value


def function_ids(template: Template | str | Path) -> list[str]:
    template = _as_template(template)
    return [lid for lid, r in template["Resources"].items() if (r or {}).get("Type") == FUNCTION_TYPE]


def function_properties(template: Template | str | Path, logical_id: str) -> dict[str, Any]:
    """The function's Properties with `Globals.Function` merged in (unresolved intrinsics)."""
    template = _as_template(template)
    resource = template["Resources"].get(logical_id)
    if not resource or resource.get("Type") != FUNCTION_TYPE:
        raise TemplateError(f"{logical_id} is not an {FUNCTION_TYPE} of the template")
    globals_ = ((template.get("Globals") or {}).get("Function")) or {}
    merged: dict[str, Any] = _merge_globals(globals_, resource.get("Properties") or {})
    return merged


def _stringify_env(name: str, value: Any) -> str:
    if isinstance(value, dict | list):
        raise TemplateError(f"environment variable {name} resolves to a {type(value).__name__}, not a string")
    return _scalar_string(value, what=f"environment variable {name}")


def function_environment(
    template: Template | str | Path,
    logical_id: str,
    resources: Mapping[str, str],
    parameter_overrides: Mapping[str, Any] | None = None,
    *,
    region: str | None = None,
    account_id: str | None = None,
    stack_name: str | None = None,
) -> dict[str, str]:
    """`Globals.Function.Environment` merged with the function's own, every intrinsic resolved.

    `resources` is what `create_aws_resources` answered (a plain logical id → name mapping works too; ARNs are
    then computed from `region`/`account_id`). Region, account and stack name default to the ones
    `resources` carries.
    """
    template = _as_template(template)
    properties = function_properties(template, logical_id)
    resolver = _resolver(
        template, resources, parameter_overrides, region=region, account_id=account_id, stack_name=stack_name
    )
    environment = resolver.resolve(properties.get("Environment") or {})
    if environment is _NO_VALUE:
        return {}
    variables = environment.get("Variables") or {}
    return {name: _stringify_env(name, value) for name, value in variables.items() if value is not _NO_VALUE}


def function_reserved_concurrency(
    template: Template | str | Path,
    logical_id: str,
    resources: Mapping[str, str],
    parameter_overrides: Mapping[str, Any] | None = None,
) -> int | None:
    """The function's `ReservedConcurrentExecutions`, intrinsics resolved; None when it reserves none."""
    template = _as_template(template)
    value = function_properties(template, logical_id).get("ReservedConcurrentExecutions")
    if value is None:
        return None
    resolved = _resolver(template, resources, parameter_overrides).resolve(value)
    if resolved is _NO_VALUE or resolved is None:
        return None
    try:
        return int(resolved)
    except (TypeError, ValueError):
        raise TemplateError(f"{logical_id}: ReservedConcurrentExecutions {resolved!r} is not a number") from None


def function_name(template: Template | str | Path, logical_id: str, stack_name: str) -> str:
    configured = function_properties(template, logical_id).get("FunctionName")
    return configured if isinstance(configured, str) else f"{stack_name}-{logical_id}"


def layer_directories(template: Template | str | Path, logical_id: str, project_root: str | Path) -> list[Path]:
    """Where the function's template-defined layers keep their importable code (Lambda's /opt/python)."""
    template = _as_template(template)
    directories: list[Path] = []
    for layer in function_properties(template, logical_id).get("Layers") or []:
        target = layer.get("Ref") if isinstance(layer, dict) else None
        resource = template["Resources"].get(target) if isinstance(target, str) else None
        if not resource or resource.get("Type") not in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            LOG.info("%s: layer %r is not built from this template: not on the local path", logical_id, layer)
            continue
        properties = resource.get("Properties") or {}
        content = properties.get("ContentUri") or (properties.get("Content") or {})
        if not isinstance(content, str):
            raise TemplateError(f"layer {target}: only a local ContentUri directory is supported")
        directory = Path(project_root) / content
        build_method = str(((resource.get("Metadata") or {}).get("BuildMethod")) or "")
        # Without a build method the directory is zipped as-is, so Lambda imports from its python/ folder;
        # `python3.x` and `makefile` builds take the directory as the package root.
        if not build_method and (directory / "python").is_dir():
            directory = directory / "python"
        directories.append(directory.resolve())
    return directories


@dataclass(frozen=True)
class HandlerLocation:
    code_dir: Path
    module_file: Path
    module_name: str  # the unique name it is imported under
    attribute: str


def handler_location(template: Template | str | Path, logical_id: str, project_root: str | Path) -> HandlerLocation:
    properties = function_properties(template, logical_id)
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise TemplateError(f"{logical_id}: runtime {runtime or '(none)'} cannot run in the local stack")
    if "InlineCode" in properties or not isinstance(properties.get("CodeUri"), str):
        raise TemplateError(f"{logical_id}: only a local CodeUri directory is supported")
    handler = str(properties.get("Handler", ""))
    module, _, attribute = handler.rpartition(".")
    if not module or not attribute:
        raise TemplateError(f"{logical_id}: Handler {handler!r} is not <module>.<function>")
    code_dir = (Path(project_root) / properties["CodeUri"]).resolve()
    module_file = code_dir / (module.replace(".", "/") + ".py")
    if not module_file.is_file():
        package_init = code_dir / module.replace(".", "/") / "__init__.py"
        if not package_init.is_file():
            raise TemplateError(f"{logical_id}: handler module {module_file} does not exist")
        module_file = package_init
    unique = re.sub(r"\W", "_", f"{logical_id}__{module}")
    return HandlerLocation(code_dir, module_file, f"_local_stack_function__{unique}", attribute)


def load_handler(template: Template | str | Path, logical_id: str, project_root: str | Path) -> Handler:
    """Import `CodeUri/<module>.py` by file path under a name unique to the function; answer the handler.

    Several functions each have an `app.py`: each is imported as `_local_stack_function__<LogicalId>__app`.
    While the module runs, its code directory is first on `sys.path` (like Lambda's task root), so sibling
    modules import; the function's template layers are added to `sys.path` for good.
    """
    template = _as_template(template)
    location = handler_location(template, logical_id, project_root)
    for directory in layer_directories(template, logical_id, project_root):
        if str(directory) not in sys.path:
            sys.path.append(str(directory))
    spec = importlib.util.spec_from_file_location(location.module_name, location.module_file)
    if spec is None or spec.loader is None:
        raise TemplateError(f"{logical_id}: cannot import {location.module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[location.module_name] = module
    sys.path.insert(0, str(location.code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(location.module_name, None)
        raise
    finally:
        sys.path.remove(str(location.code_dir))
    handler = getattr(module, location.attribute, None)
    if not callable(handler):
        raise TemplateError(f"{logical_id}: {location.module_file} has no callable {location.attribute!r}")
    return handler  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------------------------
# REST API routes and settings
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str  # upper case; "ANY" matches every method
    path_template: str  # "/funders/{funder_id}", "/{proxy+}"
    function_logical_id: str
    auth: str  # the authorizer in force: "AWS_IAM", "NONE", or an authorizer's name
    api_logical_id: str = IMPLICIT_API_ID
    event_id: str = ""


def _api_auth_default(template: Template, api_logical_id: str) -> str:
    globals_auth = (((template.get("Globals") or {}).get("Api") or {}).get("Auth")) or {}
    resource = template["Resources"].get(api_logical_id) or {}
    auth = _merge_globals(globals_auth, ((resource.get("Properties") or {}).get("Auth")) or {})
    return str(auth.get("DefaultAuthorizer") or "NONE")


def api_routes(template: Template | str | Path, parameter_overrides: Mapping[str, Any] | None = None) -> list[Route]:
    """REST routes from the functions' `Events` of `Type: Api` (HttpApi and other event types are skipped)."""
    template = _as_template(template)
    resolver = _resolver(template, StackResources(), parameter_overrides)
    routes: list[Route] = []
    seen: dict[tuple[str, str, str], str] = {}
    for logical_id in function_ids(template):
        if not resolver.resource_enabled(logical_id):
            continue
        events = function_properties(template, logical_id).get("Events") or {}
        for event_id, event in events.items():
            if (event or {}).get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            api = properties.get("RestApiId", IMPLICIT_API_ID)
            api_id = api.get("Ref") if isinstance(api, dict) else api
            if not isinstance(api_id, str):
                raise TemplateError(f"{logical_id}.{event_id}: RestApiId must be a Ref to a template API")
            path, method = properties.get("Path"), str(properties.get("Method", "")).upper()
            if not isinstance(path, str) or not path.startswith("/") or not method:
                raise TemplateError(f"{logical_id}.{event_id}: Path and Method are required")
            method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
            authorizer = ((properties.get("Auth") or {}).get("Authorizer")) or _api_auth_default(template, api_id)
            key = (api_id, method, path)
            if key in seen:
                raise TemplateError(f"route {method} {path} is declared twice ({seen[key]}, {logical_id}.{event_id})")
            seen[key] = f"{logical_id}.{event_id}"
            routes.append(Route(method, path, logical_id, str(authorizer), api_id, event_id))
    return routes


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int | None
    templates: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class ApiSettings:
    logical_id: str
    api_id: str
    stage: str
    binary_media_types: tuple[str, ...] = ()
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)


def api_settings(
    template: Template | str | Path,
    api_logical_id: str = IMPLICIT_API_ID,
    parameter_overrides: Mapping[str, Any] | None = None,
) -> ApiSettings:
    """Stage name, binary media types and gateway responses of a template REST API (or SAM's implicit one)."""
    template = _as_template(template)
    resolver = _resolver(template, StackResources(), parameter_overrides)
    globals_api = ((template.get("Globals") or {}).get("Api")) or {}
    resource = template["Resources"].get(api_logical_id)
    if resource is None and api_logical_id != IMPLICIT_API_ID:
        raise TemplateError(f"unknown API {api_logical_id}")
    properties = resolver.resolve(_merge_globals(globals_api, ((resource or {}).get("Properties")) or {}))
    stage = str(properties.get("StageName") or IMPLICIT_API_STAGE)
    # SAM (like API Gateway's patch paths) writes "/" in media types as "~1".
    binary = tuple(str(t).replace("~1", "/") for t in properties.get("BinaryMediaTypes") or [])
    responses: dict[str, GatewayResponse] = {}
    for kind, spec in (properties.get("GatewayResponses") or {}).items():
        parameters = (spec or {}).get("ResponseParameters") or {}
        headers = {str(k): str(v) for k, v in (parameters.get("Headers") or {}).items()}
        status = spec.get("StatusCode")
        responses[str(kind)] = GatewayResponse(
            int(status) if status is not None else None,
            {str(k): str(v) for k, v in (spec.get("ResponseTemplates") or {}).items()},
            headers,
        )
    return ApiSettings(api_logical_id, local_api_id(api_logical_id), stage, binary, responses)
