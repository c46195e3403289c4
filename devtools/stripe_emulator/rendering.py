"""How stored objects go out, where Stripe sends less of an object than the emulator keeps.

The emulator stores an invoice with all its lines; Stripe embeds only the first page of them (the rest
is behind ``lines.url``). A resource module registers a renderer for its object type in
:data:`RENDERERS`; :func:`render` applies them to every object the API answers (expanded ones included)
and to the snapshots events carry, so responses and webhook payloads agree.
"""

from __future__ import annotations

from collections.abc import Callable

from .store import JSON

# object type -> a function trimming a copy of such an object, in place, to what Stripe sends
RENDERERS: dict[str, Callable[[JSON], None]] = {}


def render[T](value: T) -> T:
    """Apply the renderers, in place, to every object within ``value`` (a copy the caller owns)."""
    if isinstance(value, dict):
        object_type = value.get("object")
        renderer = RENDERERS.get(object_type) if isinstance(object_type, str) else None
        if renderer is not None:
            renderer(value)
        for item in value.values():
            render(item)
    elif isinstance(value, list):
        for item in value:
            render(item)
    return value
