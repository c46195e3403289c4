"""Check Stripe objects (as JSON) against stripe-python's typed classes for the pinned SDK version.

Each resource class of the SDK declares its fields as annotations: ``Optional[...]`` for fields that may be
``null`` or absent, ``Literal[...]`` for enums (``Union[Literal[...], str]`` for Stripe's "open" enums),
nested ``StripeObject`` classes for sub-hashes, ``ExpandableField`` (an id or the object) and
``ListObject[...]`` for embedded lists. ``OBJECT_CLASSES`` (``stripe._object_classes``) maps an ``object``
value to its class; thin events (``v2.core.event``) map their ``type`` through
``stripe.events._event_classes``. :mod:`tests.stripe_sdk_types` reads them (tests/stripe_fixtures.py too).

:func:`check` walks a JSON object along those classes and reports every :class:`Difference`:

- ``unknown_field``: a field the SDK's class does not declare;
- ``missing_field``: a field the SDK declares non-``Optional`` that is absent or ``null``;
- ``enum_value``: a value outside the field's ``Literal`` values (open enums included);
- ``object_value``: an ``object`` that is not the class's (or an ``object`` the SDK does not know);
- ``type``: a value of another JSON type than declared (a string where an integer is due...).

A difference's ``where`` names the field by shape, not by position: the ``object`` of the nearest enclosing
object (wherever that object is embedded), then field names, ``[]`` for list items
(``invoice.lines.data[].pricing.type``), so an allow-list can name it; ``value`` is the offending value
(``repr``, empty for unknown and missing fields).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from stripe._list_object import ListObject
from stripe.events._event_classes import get_v2_event_notification_class
from stripe.v2.core._event import EventNotification

from tests.stripe_sdk_types import NONE_TYPE, class_for, field_hints, is_untyped, optional

Kind = Literal["unknown_field", "missing_field", "enum_value", "object_value", "type"]
DELETED_FIELDS = frozenset({"id", "object", "deleted"})  # what a deleted object keeps
LIST_FIELDS: dict[str, type] = {"object": str, "data": list, "has_more": bool, "url": str}
SEARCH_RESULT_FIELDS: dict[str, type] = {**LIST_FIELDS, "next_page": str}
SCALARS = (str, int, float, bool)


@dataclass(frozen=True, order=True)
class Difference:
    kind: Kind
    where: str  # "subscription_schedule.pause_schedules"
    detail: str
    value: str = ""  # repr of the offending value (enum_value, object_value, type)

    def __str__(self) -> str:
        return f"{self.kind} at {self.where}: {self.detail}"


def check(payload: Mapping[str, Any]) -> list[Difference]:
    """Every difference between ``payload`` (an object, list, event or thin event as Stripe's JSON) and the
    SDK's classes, sorted and without duplicates."""
    found: set[Difference] = set()
    _check_root(payload, found)
    return sorted(found)


def check_thin_notification(payload: Mapping[str, Any]) -> list[Difference]:
    """A thin event as an event destination is sent it (no ``data``), against the SDK's notification class
    for its ``type`` (``EventNotification`` plus, for some types, ``related_object``)."""
    found: set[Difference] = set()
    event_type = str(payload.get("type"))
    cls = get_v2_event_notification_class(event_type)
    if cls is None or not issubclass(cls, EventNotification):
        found.add(Difference("enum_value", "v2.core.event.type", f"no SDK class for thin event type {event_type!r}"))
        cls = EventNotification
    _check_fields(payload, cls, "v2.core.event(notification)", found)
    return sorted(found)


# roots ------------------------------------------------------------------------------------------
def _check_root(payload: Mapping[str, Any], found: set[Difference]) -> None:
    name = payload.get("object")
    if name in ("list", "search_result"):
        _check_list(payload, None, str(name), found)
        return
    cls = class_for(payload)
    if cls is None:
        found.add(Difference("object_value", str(name), f"the SDK knows no object {name!r}", repr(name)))
        return
    _check_fields(payload, cls, str(name), found)
    if name == "event":
        _check_event_data(payload, found)


def _check_event_data(event: Mapping[str, Any], found: set[Difference]) -> None:
    """``data.object`` is typed ``Dict[str, Any]`` in the SDK: check it as the object it is, and
    ``previous_attributes`` as a partial one (known fields only)."""
    data = event.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        return
    obj = data["object"]
    _check_root(obj, found)
    previous = data.get("previous_attributes")
    cls = class_for(obj)
    if isinstance(previous, Mapping) and cls is not None:
        known = field_hints(cls)
        for name in previous:
            if name not in known:
                found.add(Difference("unknown_field", f"event.data.previous_attributes.{name}", f"{cls.__name__}"))


# walking ----------------------------------------------------------------------------------------
def _check_fields(value: Mapping[str, Any], cls: type, where: str, found: set[Difference]) -> None:
    hints = field_hints(cls)
    object_name = getattr(cls, "OBJECT_NAME", None)
    if isinstance(object_name, str):
        where = object_name  # an object embedded in another is named by its own kind
    deleted = value.get("deleted") is True
    for name in value:
        if name not in hints and not (deleted and name in DELETED_FIELDS):
            found.add(Difference("unknown_field", f"{where}.{name}", f"not a field of {_qualname(cls)}"))
    for name, hint in hints.items():
        if name not in value or value[name] is None:
            if not deleted and not optional(hint):
                state = "absent" if name not in value else "null"
                found.add(Difference("missing_field", f"{where}.{name}", f"{state}, required by {_qualname(cls)}"))
            continue
        _check_value(value[name], hint, f"{where}.{name}", found)


def _check_list(value: Mapping[str, Any], item: Any, where: str, found: set[Difference]) -> None:
    """A list envelope (``ListObject`` / ``SearchResultObject``, whose classes leave ``object`` and ``url``
    undeclared), then each element: as ``item`` when the field says what it holds, else by its ``object``."""
    name = value.get("object")
    if name not in ("list", "search_result"):
        found.add(Difference("object_value", f"{where}.object", f"{name!r} where a list is due", repr(name)))
    known = LIST_FIELDS if name != "search_result" else SEARCH_RESULT_FIELDS
    for field in value:
        if field not in known:
            found.add(Difference("unknown_field", f"{where}.{field}", f"not a field of a {name} object"))
    for field, expected in known.items():
        if field == "next_page":
            continue  # Optional on search results
        if field not in value:
            found.add(Difference("missing_field", f"{where}.{field}", f"absent, required on a {name} object"))
        else:
            _expect(value[field], expected, f"{where}.{field}", found)
    for element in value.get("data") or []:
        if item is None and isinstance(element, Mapping):
            _check_root(element, found)
        else:
            _check_value(element, item, f"{where}.data[]", found)


def _check_value(value: Any, hint: Any, where: str, found: set[Difference]) -> None:
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any or hint is object or is_untyped(hint):
        return
    if origin in (Union, types.UnionType):
        _check_union(value, [arg for arg in args if arg is not NONE_TYPE], where, found)
    elif origin is Literal:
        kind: Kind = "object_value" if where.endswith(".object") else "enum_value"
        if value not in args:
            found.add(Difference(kind, where, f"{value!r} not in {sorted(map(str, args))}", repr(value)))
    elif origin is ListObject or hint is ListObject:
        if _expect(value, Mapping, where, found):
            _check_list(value, args[0] if args else None, where, found)
    elif origin in (list, dict) or hint in (list, dict):
        _check_collection(value, hint, where, found)
    elif isinstance(hint, type) and field_hints(hint):
        if _expect(value, Mapping, where, found):
            _check_fields(value, hint, where, found)
    else:
        _check_scalar(value, hint, where, found)


def _check_collection(value: Any, hint: Any, where: str, found: set[Difference]) -> None:
    """``List[X]`` (each item an X) or ``Dict[str, X]`` (each value an X)."""
    origin, args = get_origin(hint) or hint, get_args(hint)
    if origin is list:
        if _expect(value, list, where, found):
            for element in value:
                _check_value(element, args[0] if args else Any, f"{where}[]", found)
    elif _expect(value, Mapping, where, found):
        for element in value.values():
            _check_value(element, args[1] if len(args) == 2 else Any, f"{where}{{}}", found)


def _check_scalar(value: Any, hint: Any, where: str, found: set[Difference]) -> None:
    if hint is bool:
        _expect(value, bool, where, found)
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            found.add(Difference("type", where, f"{value!r} is not an integer", repr(value)))
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.add(Difference("type", where, f"{value!r} is not a number", repr(value)))
    elif hint is str:
        _expect(value, str, where, found)


def _check_union(value: Any, options: list[Any], where: str, found: set[Difference]) -> None:
    literals = [option for option in options if get_origin(option) is Literal]
    if literals and all(option is str or get_origin(option) is Literal for option in options):
        # An enum (open or not): the value must be one the SDK lists.
        allowed = {item for literal in literals for item in get_args(literal)}
        if value not in allowed:
            found.add(Difference("enum_value", where, f"{value!r} not in {sorted(map(str, allowed))}", repr(value)))
        return
    if isinstance(value, Mapping):  # an expanded object, not its id
        options = [option for option in options if option not in SCALARS] or options
    best: set[Difference] | None = None
    for option in options:
        attempt: set[Difference] = set()
        _check_value(value, option, where, attempt)
        if not attempt:
            return
        if best is None or len(attempt) < len(best):
            best = attempt
    found.update(best or ())


def _expect(value: Any, expected: type, where: str, found: set[Difference]) -> bool:
    if isinstance(value, expected):
        return True
    found.add(Difference("type", where, f"{type(value).__name__} where the SDK has {expected.__name__}", repr(value)))
    return False


def _qualname(cls: type) -> str:
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__qualname__}"
