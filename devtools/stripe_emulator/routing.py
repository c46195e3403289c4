"""Routes: an HTTP method and path pattern bound to an endpoint and its parameter schema.

Resource modules declare their endpoints with a :class:`RouteTable`::

    routes = RouteTable()

    @routes.post("/v1/customers", params=CREATE, returns=CUSTOMER)
    def create(call: Call) -> JSON: ...

``returns`` (and ``is_list``) tell the server which fields ``expand`` may name. ``api`` is ``"v1"``
(form-encoded, v1 idempotency, v1 error envelope) or ``"v2"`` (JSON bodies, v2 idempotency and errors).
``auth`` is ``"secret_key"`` (``sk_test_``/``rk_test_``) or ``"meter_event_session"`` (the meter event
stream, which takes a session's authentication token as its API key).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from .errors import unrecognized_url
from .params import Obj
from .store import JSON, Kind, Store

ApiMode = Literal["v1", "v2"]
AuthMode = Literal["secret_key", "meter_event_session"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _compile(pattern: str) -> re.Pattern[str]:
    """``/v1/prices/{price}`` -> a regex with a named group per placeholder (one path segment)."""
    parts: list[str] = []
    position = 0
    for placeholder in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position : placeholder.start()]))
        parts.append(f"(?P<{placeholder.group(1)}>[^/]+)")
        position = placeholder.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("^" + "".join(parts) + "$")


@dataclass
class Call:
    """What an endpoint gets: the store, validated parameters, path parameters, the emulator time.

    ``request_id`` and ``idempotency_key`` describe the API request, for the ``request`` hash of the
    events the endpoint records; both are ``None`` for changes the emulator clock makes by itself
    (an invoice finalized an hour after its creation), as on Stripe.
    """

    store: Store
    params: dict[str, Any]
    path: dict[str, str]
    now: int
    url: str
    request_id: str | None = None
    idempotency_key: str | None = None


Handler = Callable[[Call], JSON]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    params: Obj
    returns: Kind
    is_list: bool = False
    api: ApiMode = "v1"
    auth: AuthMode = "secret_key"
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compile(self.pattern))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


class RouteTable:
    """Collects the routes of one resource module."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def _add(
        self,
        method: str,
        pattern: str,
        *,
        params: Obj,
        returns: Kind,
        is_list: bool = False,
        api: ApiMode = "v1",
        auth: AuthMode = "secret_key",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, handler, params, returns, is_list, api, auth))
            return handler

        return register

    def get(
        self, pattern: str, *, params: Obj, returns: Kind, is_list: bool = False, api: ApiMode = "v1"
    ) -> Callable[[Handler], Handler]:
        return self._add("GET", pattern, params=params, returns=returns, is_list=is_list, api=api)

    def post(
        self, pattern: str, *, params: Obj, returns: Kind, api: ApiMode = "v1", auth: AuthMode = "secret_key"
    ) -> Callable[[Handler], Handler]:
        return self._add("POST", pattern, params=params, returns=returns, api=api, auth=auth)

    def delete(self, pattern: str, *, params: Obj, returns: Kind, api: ApiMode = "v1") -> Callable[[Handler], Handler]:
        return self._add("DELETE", pattern, params=params, returns=returns, api=api)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)


@dataclass(frozen=True)
class ClockRule:
    """A transition time makes by itself. ``next_due(store)`` is the earliest time something is due (or
    ``None``); ``apply(store, moment)`` applies everything due by ``moment``, stamped with the time each
    was due. The app steps through due times in order, so one rule's work (an invoice created at a
    renewal) can fall due for another (its finalization an hour later) within one clock move."""

    name: str
    next_due: Callable[[Store], float | None]
    apply: Callable[[Store, float], None]


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        # Literal segments win over placeholders (``/v1/customers/search`` before
        # ``/v1/customers/{customer}``), whatever order the modules declared them in.
        self._routes = sorted(routes, key=lambda route: len(_PLACEHOLDER.findall(route.pattern)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for this request; Stripe's 404 "Unrecognized request URL" otherwise.

        A known path with another method is also unrecognized, as on Stripe.
        """
        for route in self._routes:
            if route.method != method:
                continue
            path_params = route.match(path)
            if path_params is not None:
                return route, path_params
        raise unrecognized_url(method, path)
