"""List endpoints: ``limit``, ``starting_after``, ``ending_before`` (https://docs.stripe.com/pagination).

Lists are newest first. ``starting_after`` pages towards older objects, ``ending_before`` towards newer
ones; ``has_more`` says whether more objects lie beyond the page in that direction. Sublists of one object
(an invoice's ``lines``) keep that object's order instead (:func:`page_of`).
"""

from __future__ import annotations

from collections.abc import Callable
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


def paginate(call: Call, kind: Kind, items: list[JSON]) -> JSON:
    """Answer one page of ``items`` (already filtered, newest first) as a Stripe list object."""

    def place_of(object_id: str, param: str) -> int:  # grows along the list: newest (highest sequence) first
        sequence = call.store.sequence(kind, object_id)
        if sequence is None:
            raise resource_missing(kind.label, object_id, param=param, status=400)
        return -sequence

    return page_of(call, items, lambda obj: -(call.store.sequence(kind, obj["id"]) or 0), place_of)


def page_of(
    call: Call,
    items: list[JSON],
    place: Callable[[JSON], int],
    cursor_place: Callable[[str, str], int],
) -> JSON:
    """One page of ``items`` (in list order, along which ``place`` grows) as a Stripe list object: from the
    start, after the ``starting_after`` object or up to the ``ending_before`` one (``cursor_place(id,
    param)`` places them, or refuses an unknown id), at most ``limit`` objects."""
    if "starting_after" in call.params and "ending_before" in call.params:
        raise exclusive_parameters("starting_after", "ending_before")
    limit: int = call.params.get("limit", DEFAULT_LIMIT)
    if "starting_after" in call.params:
        after = cursor_place(call.params["starting_after"], "starting_after")
        beyond = [obj for obj in items if place(obj) > after]
        page, has_more = beyond[:limit], len(beyond) > limit
    elif "ending_before" in call.params:
        before = cursor_place(call.params["ending_before"], "ending_before")
        ahead = [obj for obj in items if place(obj) < before]
        page, has_more = ahead[-limit:], len(ahead) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    result: dict[str, Any] = {"object": "list", "data": page, "has_more": has_more, "url": call.url}
    return result
