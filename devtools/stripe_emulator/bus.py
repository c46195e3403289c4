"""The emulator's event bus: where recorded Stripe events go once they are stored.

Every state change an endpoint (or the emulator clock) makes records a Stripe ``event`` object
(:mod:`.resources.events`) and publishes it here. Nothing subscribes yet; webhook delivery will: it
subscribes a callback, delivers each event to the webhook endpoints, and reports the outcome with
:meth:`EventBus.mark_delivered` (what ``GET /v1/events?delivery_success=...`` filters on).

Subscribers are called synchronously while the store lock is held, right after the event is stored:
they must be quick (queue the event, deliver from another thread) and must not call back into the
emulator's API from the publishing thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

EventListener = Callable[[dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[EventListener] = []
        self._delivered: set[str] = set()

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event recorded from now on; returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)

    def mark_delivered(self, event_id: str) -> None:
        """Every webhook endpoint acknowledged ``event_id`` (``delivery_success=true``)."""
        with self._lock:
            self._delivered.add(event_id)

    def delivered(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._delivered

    def reset(self) -> None:
        """Forget delivery outcomes (reset); subscribers stay, they belong to the emulator's wiring."""
        with self._lock:
            self._delivered.clear()
