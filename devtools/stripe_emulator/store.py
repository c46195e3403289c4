"""The emulator's state: objects by kind, the emulator clock, id generation.

Objects are stored in their wire shape (plain JSON-like dicts) and handed out as deep copies, so an
endpoint that fails half-way leaves nothing behind unless it already called :meth:`Store.save`. Every
object gets a sequence number when created; lists are answered newest first, as Stripe lists are, and
pagination cursors compare sequence numbers.

All access goes through :attr:`Store.lock` (the server holds it while an endpoint runs). Recorded
Stripe events are published on :attr:`Store.bus` (:mod:`.bus`). State that is not a Stripe object with an
``id`` (the meter event ledger) lives in :meth:`Store.state`, forgotten on reset like the objects.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from .bus import EventBus
from .errors import resource_missing

JSON = dict[str, Any]

_ID_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int, alphabet: str = _ID_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Kind:
    """A Stripe resource type as the emulator models it.

    ``label`` names it in "No such {label}: 'id'" messages; ``missing_param`` is the ``param`` Stripe
    reports when the id in the URL is unknown; ``expandable`` maps (dotted) fields holding an id to the
    kind of object they can be expanded into.
    """

    object: str
    label: str
    prefix: str
    id_length: int
    missing_param: str = "id"
    expandable: Mapping[str, str] = field(default_factory=dict)


class Clock:
    """Real time plus an offset that tests can move forward (never backwards)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now_float(self) -> float:
        return time.time() + self._offset

    def now(self) -> int:
        return int(self.now_float())

    def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        self._offset += seconds
        return self.now()

    def set(self, now: float) -> int:
        if now < self.now_float() - 1:
            raise ValueError("the emulator clock only moves forward")
        self._offset = now - time.time()
        return self.now()

    def reset(self) -> None:
        self._offset = 0.0


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self._objects: dict[str, dict[str, JSON]] = {}
        self._seq: dict[tuple[str, str], int] = {}
        self._counter = 0
        self._state: dict[str, Any] = {}
        self.bus = EventBus()

    def reset(self) -> None:
        with self.lock:
            self._objects.clear()
            self._seq.clear()
            self._counter = 0
            self._state.clear()
            self.clock.reset()

    def scratch_copy(self) -> Store:
        """A deep copy of the objects and state, on an event bus nobody listens to: to work out what an
        operation would do (an invoice preview) by doing it on the copy, leaving this store untouched."""
        with self.lock:
            scratch = Store()
            scratch.clock = self.clock
            scratch._objects = copy.deepcopy(self._objects)
            scratch._seq = dict(self._seq)
            scratch._counter = self._counter
            scratch._state = copy.deepcopy(self._state)
            return scratch

    def state[T](self, name: str, factory: Callable[[], T]) -> T:
        """Named state of a resource module that is not an object store (created on first use, dropped on
        reset): ``store.state("meter_ledger", MeterLedger)``."""
        with self.lock:
            if name not in self._state:
                self._state[name] = factory()
            return cast(T, self._state[name])

    # ids -------------------------------------------------------------------------------------------
    def new_id(self, kind: Kind) -> str:
        with self.lock:
            while True:
                candidate = kind.prefix + random_token(kind.id_length)
                if candidate not in self._objects.get(kind.object, {}):
                    return candidate

    # objects ---------------------------------------------------------------------------------------
    def exists(self, kind: Kind, object_id: str) -> bool:
        return object_id in self._objects.get(kind.object, {})

    def insert(self, kind: Kind, obj: JSON) -> JSON:
        with self.lock:
            self._counter += 1
            self._objects.setdefault(kind.object, {})[obj["id"]] = obj
            self._seq[(kind.object, obj["id"])] = self._counter
            return copy.deepcopy(obj)

    def save(self, kind: Kind, obj: JSON) -> JSON:
        """Replace a stored object (same id), keeping its place in lists."""
        with self.lock:
            self._objects[kind.object][obj["id"]] = obj
            return copy.deepcopy(obj)

    def remove(self, kind: Kind, object_id: str) -> None:
        with self.lock:
            self._objects.get(kind.object, {}).pop(object_id, None)

    def get(self, kind: Kind, object_id: str) -> JSON | None:
        """A copy of the stored object: changes persist only through :meth:`save`."""
        return self.get_by_object(kind.object, object_id)

    def get_by_object(self, object_type: str, object_id: str) -> JSON | None:
        found = self._objects.get(object_type, {}).get(object_id)
        return copy.deepcopy(found) if found is not None else None

    def require(self, kind: Kind, object_id: str, *, param: str | None = None, status: int = 404) -> JSON:
        """A copy of the stored object, or Stripe's ``resource_missing``.

        For an id in the URL Stripe answers 404 with the kind's ``missing_param``; for an id passed as
        a parameter (e.g. ``product`` when creating a price) it answers 400 naming that parameter.
        """
        found = self.get(kind, object_id)
        if found is None:
            raise resource_missing(kind.label, object_id, param=param or kind.missing_param, status=status)
        return found

    def all(self, kind: Kind, where: Callable[[JSON], bool] | None = None) -> list[JSON]:
        """Copies of every object of ``kind``, newest first, optionally filtered."""
        objects: Iterable[JSON] = reversed(list(self._objects.get(kind.object, {}).values()))
        return [copy.deepcopy(obj) for obj in objects if where is None or where(obj)]

    def scan(self, kind: Kind) -> list[JSON]:
        """The stored objects of ``kind`` themselves, oldest first, without copying: for read-only scans
        (what a clock rule has due) that must stay cheap. Never modify what this returns."""
        return list(self._objects.get(kind.object, {}).values())

    def sequence(self, kind: Kind, object_id: str) -> int | None:
        return self._seq.get((kind.object, object_id))
