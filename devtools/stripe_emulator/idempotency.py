"""Stripe's v1 idempotency layer (https://docs.stripe.com/api/idempotent_requests).

The first response for an ``Idempotency-Key`` on a ``POST`` is saved (status, headers, body) and
replayed byte for byte, with ``Idempotent-Replayed: true``, to any later request with the same key and
the same parameters, errors and 500s included. The same key with other parameters, or on another
endpoint, is a 400 ``idempotency_error``; while the first request is still running a second one gets
409 ``idempotency_key_in_use``. Keys are pruned after 24 hours (emulator time).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .errors import IDEMPOTENCY_ERROR, StripeError

KEY_TTL_SECONDS = 24 * 60 * 60
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class SavedResponse:
    method: str
    path: str
    fingerprint: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    request_id: str
    saved_at: float


class IdempotencyCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: dict[str, SavedResponse] = {}
        self._in_flight: set[str] = set()

    def reset(self) -> None:
        with self._lock:
            self._saved.clear()
            self._in_flight.clear()

    def begin(self, key: str, method: str, path: str, fingerprint: str, now: float) -> SavedResponse | None:
        """Claim ``key`` for a new request, or return the response to replay.

        Raises the Stripe error for a reused key with other parameters, or one still in flight.
        """
        if len(key) > MAX_KEY_LENGTH:
            raise StripeError(
                400,
                f"The idempotency key provided is too long: it can be at most {MAX_KEY_LENGTH} characters.",
                type=IDEMPOTENCY_ERROR,
                saved=False,
            )
        with self._lock:
            saved = self._saved.get(key)
            if saved is not None and now - saved.saved_at >= KEY_TTL_SECONDS:
                del self._saved[key]
                saved = None
            if saved is not None:
                if (saved.method, saved.path) != (method, path):
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used for the same endpoint they were "
                        f"first used for ('{saved.method} {saved.path}' vs '{method} {path}'). Try using "
                        f"a key other than '{key}' if you meant to execute a different request.",
                        type=IDEMPOTENCY_ERROR,
                        saved=False,
                    )
                if saved.fingerprint != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they "
                        f"were first used with. Try using a key other than '{key}' if you meant to "
                        "execute a different request.",
                        type=IDEMPOTENCY_ERROR,
                        saved=False,
                    )
                return saved
            if key in self._in_flight:
                raise StripeError(
                    409,
                    "There is currently another in-progress request using this Idempotent Key (that "
                    "probably means you submitted twice, and the other request is still going "
                    f"through): {key}. Please try again later.",
                    code="idempotency_key_in_use",
                    saved=False,
                )
            self._in_flight.add(key)
            return None

    def finish(self, key: str, response: SavedResponse | None) -> None:
        """Release ``key``; keep ``response`` for replay unless it is ``None``."""
        with self._lock:
            self._in_flight.discard(key)
            if response is not None:
                self._saved[key] = response
