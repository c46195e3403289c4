"""Parameters, conditions and intrinsic functions, resolved as CloudFormation does at deploy time.

Supported: those that make sense without an AWS account: Ref (parameters, pseudo parameters, resources), Fn::Sub,
Fn::GetAtt, Fn::If, Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition, Fn::Join, Fn::Select, Fn::Split,
Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::Length and Fn::ToJsonString. Fn::ImportValue, Fn::Cidr and
Fn::Transform raise `TemplateError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from local_stack.template.document import Template, TemplateError, as_template

DEFAULT_REGION = "us-east-1"
# moto's default account: ARNs we compute match the ones moto hands out.
DEFAULT_ACCOUNT_ID = "123456789012"


def resolve_parameters(template: Template, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Each template parameter's value: the override, else its Default (validated like CloudFormation)."""
    template = as_template(template)
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
        value = scalar_string(raw, what=f"parameter {name}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [scalar_string(a, what=name) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
        kind = str(spec.get("Type", "String"))
        values[name] = (
            [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" or kind.startswith("List<") else value
        )
    return values


def scalar_string(value: Any, *, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(scalar_string(v, what=what) for v in value)
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


NO_VALUE: Any = object()  # AWS::NoValue: the enclosing property or list item disappears


class Resolver:
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
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
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
            return NO_VALUE
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
        if resource_type == "AWS::Events::EventBus":  # its Name (a partner bus is named after its source)
            properties = self.template["Resources"][logical_id].get("Properties") or {}
            return scalar_string(self.resolve(properties.get("Name", name)), what=f"{logical_id}.Name")
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
            "AWS::Events::EventBus": {
                "Arn": lambda: f"arn:aws:events:{region}:{account}:event-bus/{ref}",
                "Name": lambda: ref,
            },
            "AWS::Events::Rule": {"Arn": lambda: f"arn:aws:events:{region}:{account}:rule/{ref}"},
            "AWS::Events::Archive": {"Arn": lambda: f"arn:aws:events:{region}:{account}:archive/{ref}"},
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
            if value is NO_VALUE or isinstance(value, list | dict):
                raise TemplateError(f"Fn::Sub variable {name} is not a string")
            return scalar_string(value, what=f"Fn::Sub ${{{name}}}")

        return re.sub(r"\$\{([^}]*)\}", substitute, str(text))

    def _fn_if(self, argument: Any) -> Any:
        condition, if_true, if_false = argument
        return self.resolve(if_true if self.condition(str(condition)) else if_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = (self.resolve(v) for v in argument)
        return scalar_string(left, what="Fn::Equals") == scalar_string(right, what="Fn::Equals")

    def _fn_and(self, argument: Any) -> bool:
        return all(bool(self.resolve(v)) for v in argument)

    def _fn_or(self, argument: Any) -> bool:
        return any(bool(self.resolve(v)) for v in argument)

    def _fn_not(self, argument: Any) -> bool:
        return not bool(self.resolve(argument[0]))

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = argument
        items = self.resolve(items)
        return str(delimiter).join(scalar_string(i, what="Fn::Join") for i in items)

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


def resolver_for(
    template: Template,
    resources: Mapping[str, str],
    parameter_overrides: Mapping[str, Any] | None,
    *,
    region: str | None = None,
    account_id: str | None = None,
    stack_name: str | None = None,
) -> Resolver:
    return Resolver(
        template,
        resolve_parameters(template, parameter_overrides),
        resources,
        region=region or getattr(resources, "region", None) or DEFAULT_REGION,
        account_id=account_id or getattr(resources, "account_id", None) or DEFAULT_ACCOUNT_ID,
        stack_name=stack_name or getattr(resources, "stack_name", None) or "local",
    )


def failed_rule_assertions(template: Template, parameter_overrides: Mapping[str, Any] | None = None) -> list[str]:
    """The `AssertDescription` of each template `Rules` assertion these parameters fail (CloudFormation refuses
    such a stack before creating anything)."""
    resolver = resolver_for(template, StackResources(), parameter_overrides)
    failed = []
    for name, rule in (template.get("Rules") or {}).items():
        if not resolver.resolve(rule.get("RuleCondition", True)):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolver.resolve(assertion["Assert"]):
                failed.append(f"{name}: {' '.join(str(assertion.get('AssertDescription', 'failed')).split())}")
    return failed


def local_api_id(logical_id: str) -> str:
    """A stable, API-Gateway-looking id (10 lowercase alphanumerics) for a template API."""
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]
