"""stripe-python's typed resource classes (the pinned SDK version) as field declarations: which class an
``object`` value is, which fields a class declares and with which type. Used to check Stripe objects against the
SDK (tests/emulator/sdk_models.py) and to build objects shaped as the SDK declares them (tests/stripe_fixtures.py).

The SDK declares fields as annotations: ``Optional[...]`` for fields that may be ``null`` or absent,
``Literal[...]`` for enums (``Union[Literal[...], str]`` for Stripe's "open" enums), nested ``StripeObject``
classes for sub-hashes, ``ExpandableField`` (an id or the object), ``ListObject[...]`` for embedded lists and
``UntypedStripeObject`` for free-form hashes (``metadata``).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Union, get_args, get_origin

from stripe._object_classes import OBJECT_CLASSES, V2_OBJECT_CLASSES
from stripe._stripe_object import UntypedStripeObject
from stripe.events._event_classes import get_v2_event_class

NONE_TYPE = type(None)


def class_for(payload: Mapping[str, Any]) -> type | None:
    """The SDK class of an object: by ``object`` (``OBJECT_CLASSES``), by ``type`` for thin events."""
    name = payload.get("object")
    if name == "v2.core.event":
        specific = get_v2_event_class(str(payload.get("type")))
        if specific is not None:
            return specific
    mapping = V2_OBJECT_CLASSES if isinstance(name, str) and name.startswith("v2.") else OBJECT_CLASSES
    if not isinstance(name, str) or name not in mapping:
        return None
    module, attribute = mapping[name]
    return getattr(importlib.import_module(module), attribute)


def optional(hint: Any) -> bool:
    """Whether the SDK lets the field be ``null`` (or absent)."""
    return get_origin(hint) in (Union, types.UnionType) and NONE_TYPE in get_args(hint)


def is_untyped(hint: Any) -> bool:
    """A free-form hash (``UntypedStripeObject``, e.g. ``metadata``): any keys."""
    base = get_origin(hint) or hint
    return inspect.isclass(base) and issubclass(base, UntypedStripeObject)


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """The fields a class declares (its bases' too), forward references resolved; class variables and
    private names (``OBJECT_NAME``, ``_inner_class_types``) left out."""
    hints: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        own = inspect.get_annotations(base)
        if not own or base.__module__.split(".")[0] != "stripe":
            continue
        holder = type(base.__name__, (), {"__annotations__": dict(own), "__module__": base.__module__})
        resolved = typing.get_type_hints(holder, globalns=_namespace(base.__module__), localns=_nested(base))
        for name, hint in resolved.items():
            if name.startswith("_") or get_origin(hint) is ClassVar:
                continue
            hints[name] = hint
    return hints


def _nested(cls: type) -> dict[str, Any]:
    """Names an annotation may use inside ``cls``: its nested classes and those of its enclosing classes."""
    names: dict[str, Any] = {}
    module = sys.modules[cls.__module__]
    outer: Any = module
    for part in cls.__qualname__.split("."):
        outer = getattr(outer, part)
        names.update({key: value for key, value in vars(outer).items() if inspect.isclass(value)})
    return names


@functools.cache
def _namespace(module_name: str) -> dict[str, Any]:
    """The module's globals plus what it imports only ``if TYPE_CHECKING`` (forward references)."""
    module = sys.modules[module_name]
    namespace = dict(vars(module))
    source = inspect.getsource(module)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    namespace.update(_imported(statement.module, statement.names))
    return namespace


def _imported(module_name: str, names: Iterable[ast.alias]) -> dict[str, Any]:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return {}
    return {alias.asname or alias.name: getattr(module, alias.name) for alias in names if hasattr(module, alias.name)}
