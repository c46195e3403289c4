"""template.yaml as a document: YAML with CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`, `!If`, ...)
parsed into their long forms (`{"Ref": ...}`, `{"Fn::Sub": ...}`, ...); the `Template` type and the `TemplateError`
every module of the package raises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Template = dict[str, Any]


class TemplateError(Exception):
    """The template asks for something this local stack cannot do (or is itself invalid)."""


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


def as_template(template: Template | str | Path) -> Template:
    return template if isinstance(template, dict) else load_template(template)
