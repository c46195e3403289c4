"""``expand[]``: replace an id with the object it names (https://docs.stripe.com/expand).

Paths are dotted (``product``, ``data.product`` on lists, ``product.default_price``); each kind
declares which of its fields can be expanded and into what. Paths are checked before the endpoint
runs, so a wrong path is a validation error (not saved for idempotent replay).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ParamError
from .store import JSON, Kind, Store

MAX_DEPTH = 4


def _cannot_expand(path: str) -> ParamError:
    return ParamError(f"This property cannot be expanded ({path}).", param="expand")


def _split(kind: Kind, path: str) -> tuple[str, str] | None:
    """Split ``path`` into (expandable field of ``kind``, rest)."""
    for field_path in kind.expandable:
        if path == field_path:
            return field_path, ""
        if path.startswith(field_path + "."):
            return field_path, path[len(field_path) + 1 :]
    return None


def validate(paths: Sequence[str], kind: Kind, is_list: bool, kinds: Mapping[str, Kind]) -> None:
    for full_path in paths:
        path = full_path
        if is_list:
            if not path.startswith("data."):
                raise _cannot_expand(full_path)
            path = path[len("data.") :]
        current = kind
        depth = 0
        while path:
            split = _split(current, path)
            if split is None:
                raise _cannot_expand(full_path)
            field_path, path = split
            depth += 1
            if depth > MAX_DEPTH:
                raise ParamError(
                    f"You cannot expand more than {MAX_DEPTH} levels of a property ({full_path}).",
                    param="expand",
                )
            current = kinds[current.expandable[field_path]]


def _expand_one(obj: JSON, path: str, store: Store, kinds: Mapping[str, Kind]) -> None:
    kind = kinds.get(obj.get("object", ""))
    if kind is None:
        return
    split = _split(kind, path)
    if split is None:
        return
    field_path, rest = split
    *parents, leaf = field_path.split(".")
    holder: Any = obj
    for part in parents:
        holder = holder.get(part) if isinstance(holder, dict) else None
    if not isinstance(holder, dict):
        return
    value = holder.get(leaf)
    if isinstance(value, str):
        target = store.get_by_object(kind.expandable[field_path], value)
        if target is not None:
            holder[leaf] = value = target
    if rest and isinstance(value, dict):
        _expand_one(value, rest, store, kinds)


def apply(result: JSON, paths: Sequence[str], store: Store, kinds: Mapping[str, Kind]) -> JSON:
    for path in paths:
        if result.get("object") in ("list", "search_result") and path.startswith("data."):
            for item in result.get("data", []):
                _expand_one(item, path[len("data.") :], store, kinds)
        else:
            _expand_one(result, path, store, kinds)
    return result
