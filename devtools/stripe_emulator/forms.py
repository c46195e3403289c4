"""Decoding of Stripe's form-encoded nested parameters.

The SDK flattens nested parameters into bracketed keys (``stripe/_encode.py``)::

    items[0][price]=price_123   metadata[order]=42   expand[0]=data.product   lookup_keys[0]=seat_usd

Stripe's servers also accept the Rack form ``expand[]=...``. This module turns such pairs into a tree
whose dictionaries keep ``int`` keys for ``[n]`` / ``[]`` segments and ``str`` keys for ``[name]``
segments. Whether a node is an array or a hash is decided later by the endpoint's parameter schema
(:mod:`stripe_emulator.params`), so ``metadata[0]=x`` stays a hash while ``lookup_keys[0]=x`` becomes
a list. Values stay strings: an empty string means "unset" and is interpreted by the schema too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Union
from urllib.parse import parse_qsl

FormNode = Union[str, "FormDict"]
FormDict = dict[str | int, FormNode]

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """The pairs cannot form one tree (e.g. ``a=1`` together with ``a[b]=2``)."""

    def __init__(self, param: str) -> None:
        super().__init__(f"Invalid object: {param}")
        self.param = param


def parse_key(key: str) -> list[str | int | None]:
    """``"items[0][price]"`` -> ``["items", 0, "price"]``; ``"expand[]"`` -> ``["expand", None]``.

    A key that is not of the bracketed form is kept whole, as one segment.
    """
    match = _KEY.fullmatch(key)
    if match is None:
        return [key]
    segments: list[str | int | None] = [match.group(1)]
    for raw in _SEGMENT.findall(match.group(2)):
        if raw == "":
            segments.append(None)
        elif raw.isdigit():
            segments.append(int(raw))
        else:
            segments.append(raw)
    return segments


def _param_name(segments: list[str | int]) -> str:
    head, *rest = segments
    return str(head) + "".join(f"[{segment}]" for segment in rest)


def _next_index(node: FormDict) -> int:
    indexes = [key for key in node if isinstance(key, int)]
    return max(indexes) + 1 if indexes else 0


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> FormDict:
    """Build the parameter tree from ``(key, value)`` pairs; a repeated key keeps its last value."""
    root: FormDict = {}
    for key, value in pairs:
        node = root
        resolved: list[str | int] = []
        segments = parse_key(key)
        for position, raw_segment in enumerate(segments):
            segment = _next_index(node) if raw_segment is None else raw_segment
            resolved.append(segment)
            if position == len(segments) - 1:
                if isinstance(node.get(segment), dict):
                    raise FormError(_param_name(resolved))
                node[segment] = value
                break
            child = node.setdefault(segment, {})
            if not isinstance(child, dict):
                raise FormError(_param_name(resolved))
            node = child
    return root


def decode_form(body: str) -> FormDict:
    """Decode an ``application/x-www-form-urlencoded`` body or query string."""
    return decode_pairs(parse_qsl(body, keep_blank_values=True))


def to_plain(node: Any) -> Any:
    """Convert a decoded tree to plain JSON-like data: int-keyed hashes become lists (in index order).

    Used for fingerprints and tests; endpoints go through their schema instead.
    """
    if isinstance(node, dict):
        if node and all(isinstance(key, int) for key in node):
            return [to_plain(node[key]) for key in sorted(node)]
        return {str(key): to_plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [to_plain(item) for item in node]
    return node


def canonical(node: Any) -> Any:
    """A key-sorted, string-keyed copy of a tree (form or JSON), for comparing requests."""
    if isinstance(node, dict):
        return {str(key): canonical(value) for key, value in sorted(node.items(), key=lambda kv: str(kv[0]))}
    if isinstance(node, list):
        return [canonical(item) for item in node]
    return node
