"""List endpoints: ``limit``, ``starting_after``, ``ending_before`` (https://docs.stripe.com/pagination).

Lists are newest first. ``starting_after`` pages towards older objects, ``ending_before`` towards newer
ones; ``has_more`` says whether more objects lie beyond the page in that direction.
"""

from __future__ import annotations

from typing import Any

from .errors import exclusive_parameters, resource_missing
from .params import EXPAND, Int, Obj, Param, Str
from .routing import Call
from .store import JSON, Kind

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


def list_params(**filters: Param) -> Obj:
    return Obj(
        {
            "limit": Int(min=1, max=MAX_LIMIT),
            "starting_after": Str(),
            "ending_before": Str(),
            "expand": EXPAND,
            **filters,
        }
    )


def _cursor(call: Call, kind: Kind, param: str) -> int | None:
    object_id = call.params.get(param)
    if object_id is None:
        return None
    sequence = call.store.sequence(kind, object_id)
    if sequence is None:
        raise resource_missing(kind.label, object_id, param=param, status=400)
    return sequence


def paginate(call: Call, kind: Kind, items: list[JSON]) -> JSON:
    """Answer one page of ``items`` (already filtered, newest first) as a Stripe list object."""
    if "starting_after" in call.params and "ending_before" in call.params:
        raise exclusive_parameters("starting_after", "ending_before")
    limit: int = call.params.get("limit", DEFAULT_LIMIT)
    after = _cursor(call, kind, "starting_after")
    before = _cursor(call, kind, "ending_before")

    def sequence(obj: JSON) -> int:
        return call.store.sequence(kind, obj["id"]) or 0

    if after is not None:
        older = [obj for obj in items if sequence(obj) < after]
        page, has_more = older[:limit], len(older) > limit
    elif before is not None:
        newer = [obj for obj in items if sequence(obj) > before]
        page, has_more = newer[-limit:], len(newer) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    result: dict[str, Any] = {"object": "list", "data": page, "has_more": has_more, "url": call.url}
    return result
