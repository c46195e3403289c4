"""The emulator's event bus: where recorded Stripe events go once they are stored.

Every state change an endpoint (or the emulator clock) makes records a Stripe ``event`` object
(:mod:`.resources.events`) and publishes it here. Webhook delivery (:mod:`.webhooks`) subscribes: it queues
the event for the webhook endpoints subscribed to it and delivers from its own thread, counting successes
down in the stored event's ``pending_webhooks`` (what ``GET /v1/events?delivery_success=...`` filters on).
Tests subscribe through ``StripeEmulator.on_event``.

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
