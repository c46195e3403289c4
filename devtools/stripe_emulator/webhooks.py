"""Webhook delivery: every recorded event is POSTed, signed, to the webhook endpoints subscribed to it.

How Stripe delivers (https://docs.stripe.com/webhooks), and what the emulator does:

- **Who gets an event.** The endpoints that are ``enabled`` and whose ``enabled_events`` hold the event's
  type (or ``*``) when the event is recorded (:func:`.resources.webhook_endpoints.targets`): an endpoint
  created or re-enabled later does not get earlier events. ``pending_webhooks`` on the event starts at that
  number (:func:`.resources.events.record`) and drops by one per endpoint that answers 2xx.
- **The request.** ``POST`` to the endpoint's current ``url``; the body is the event as JSON (UTF-8,
  pretty-printed) with ``api_version`` set to the endpoint's pinned version, else the account default
  (the emulator has one rendering: only the label changes); headers ``Content-Type: application/json;
  charset=utf-8``, ``User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)`` and ``Stripe-Signature:
  t=<now>,v1=<HMAC-SHA256>`` over the exact bytes sent, keyed by the endpoint's secret
  (:func:`.signing.signature_header`). ``t`` is real time, not the emulator clock: it tells the receiver the
  request is fresh (300 s tolerance), and a clock advanced by hours would make every signature look stale
  or far in the future.
- **Success** is a 2xx answer within ``timeout`` (default 10 s). Anything else fails: another status
  (redirects are not followed), a refused connection, a timeout.
- **Retries.** A failed attempt is retried after ``retry_delays[0]`` seconds, then ``retry_delays[1]``...;
  after the last the delivery is given up (the event keeps counting in ``pending_webhooks``, so
  ``delivery_success=false`` lists it). Stripe retries live-mode deliveries "for up to three days with an
  exponential back off" (sandboxes: three times over a few hours); the default schedule spreads ten
  retries over just under 72 hours of *real* time; tests pass fractions of a second.
- **Disabled or deleted endpoints.** "If you disable or delete your webhook endpoint when Stripe is
  attempting a retry, future retries of that event are prevented. However, if you disable and then
  re-enable a webhook endpoint before Stripe can retry, you can still expect to see future retry
  attempts" (https://docs.stripe.com/webhooks#automatic-retries): an attempt that comes due while its
  endpoint is disabled or gone is not made, and the delivery ends (logged with ``error: "not attempted:
  ..."``).
- **Order.** One worker thread makes the attempts in the order they come due, so events normally arrive
  in the order they were recorded (Stripe does not promise that; receivers must not rely on it), and a
  receiver that hangs delays the others by up to ``timeout``.
- **The end of an event's deliveries.** When the last of an event's deliveries ends (delivered, given up
  or not attempted), the hooks in :data:`.resources.webhook_endpoints.DELIVERIES_ENDED` hear it with the
  emulator time: an invoice's ``webhooks_delivered_at`` is set when its ``invoice.created`` is done, and
  its automatic finalization waits for that (:mod:`.resources.invoices`).

- **Thin events** (``v2.core.event``, :mod:`.resources.thin_events`) go the same way to the endpoints
  registered for thin payloads (Stripe's event destinations): the body is the notification (the event
  without ``data``), signed the same way (``parse_event_notification`` verifies it); v2 events have no
  ``pending_webhooks`` to count down.
- **Amazon EventBridge destinations** (:mod:`.resources.event_destinations`) get their events the same way
  (same queue, retries and log, counted in ``pending_webhooks`` like endpoints): each attempt is one
  ``PutPartnerEvents`` on the destination's partner event source (:mod:`.eventbridge`), logged with the
  source's ARN as ``url`` and the HTTP status of AWS's answer. An attempt while the source has no event bus
  associated is not made (``error: "not attempted: ... pending ..."``, no retry: Stripe does not deliver
  before association), nor one of an entry over EventBridge's 256 KB.

Every attempt is logged (:meth:`WebhookDispatcher.deliveries`). :meth:`WebhookDispatcher.wait` blocks until
nothing is queued or in flight. Reset forgets the queue and the log; an attempt in flight during a reset
finishes and is discarded.
"""

from __future__ import annotations

import copy
import heapq
import http.client
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import eventbridge
from .resources import event_destinations, thin_events, webhook_endpoints
from .resources.events import API_VERSION
from .resources.kinds import EVENT, EVENT_DESTINATION, THIN_EVENT, WEBHOOK_ENDPOINT
from .signing import signature_header
from .store import JSON, Store

logger = logging.getLogger("stripe_emulator.webhooks")

# Ten retries, growing roughly exponentially, the last one just under 72 hours after the first attempt.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (60, 300, 1800, 3600, 7200, 14400, 28800, 57600, 57600, 86400)
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
CONTENT_TYPE = "application/json; charset=utf-8"
_MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(order=True)
class _Attempt:
    due: float  # time.monotonic()
    seq: int
    event_id: str = field(compare=False)
    event_type: str = field(compare=False)
    endpoint_id: str = field(compare=False)
    number: int = field(compare=False)  # 1: the first delivery, 2: the first retry...
    generation: int = field(compare=False)
    thin: bool = field(compare=False, default=False)
    eventbridge: bool = field(compare=False, default=False)  # endpoint_id is an event destination's


@dataclass(frozen=True)
class _Outcome:
    url: str | None
    status: int | None
    error: str | None
    attempted: bool  # False: the endpoint was disabled or deleted, nothing was sent

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stripe does not follow redirects: a 3xx answer is a failed attempt."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def _check_schedule(retry_delays: Iterable[float], timeout: float) -> tuple[float, ...]:
    delays = tuple(float(delay) for delay in retry_delays)
    if any(delay < 0 for delay in delays):
        raise ValueError(f"webhook retry delays must be >= 0 seconds: {delays}")
    if timeout <= 0:
        raise ValueError(f"the webhook timeout must be > 0 seconds: {timeout}")
    return delays


class WebhookDispatcher:
    """Queues an attempt per subscribed endpoint for each event published on ``store.bus`` and makes them
    from a background thread (:meth:`start` / :meth:`stop`); the recording request never waits."""

    def __init__(
        self,
        store: Store,
        *,
        retry_delays: Iterable[float] = DEFAULT_RETRY_DELAYS,
        timeout: float = DEFAULT_TIMEOUT,
        on_internal_error: Callable[[Exception], object] | None = None,
    ) -> None:
        self.store = store
        self.on_internal_error = on_internal_error  # a bug in delivery: reported, never silent
        self.retry_delays = _check_schedule(retry_delays, timeout)
        self.timeout = float(timeout)
        self._cond = threading.Condition()
        self._queue: list[_Attempt] = []
        self._in_flight: set[int] = set()
        self._log: list[dict[str, Any]] = []
        self._unended: dict[str, int] = {}  # snapshot event id -> its deliveries not yet ended
        self._generation = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
        store.bus.subscribe(self._on_event)

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="stripe-emulator-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker (after the attempt in flight, if any); queued attempts wait for :meth:`start`."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=self.timeout + 1)
        with self._cond:
            if self._thread is thread and (thread is None or not thread.is_alive()):
                self._thread = None

    @property
    def running(self) -> bool:
        """Whether the delivery worker is running (between :meth:`start` and :meth:`stop`)."""
        with self._cond:
            return self._thread is not None and self._thread.is_alive() and not self._stopping

    def reset(self) -> None:
        """Forget queued attempts and the log (call with the store lock held, as the store resets)."""
        with self._cond:
            self._generation += 1
            self._queue.clear()
            self._in_flight.clear()
            self._log.clear()
            self._unended.clear()
            self._cond.notify_all()

    # queries --------------------------------------------------------------------------------------
    def deliveries(self) -> list[dict[str, Any]]:
        """Every attempt so far, oldest first: ``event_id, type, endpoint, url, attempt, status, error,
        delivered, time, next_retry_in`` (seconds; ``None`` once delivered or given up)."""
        with self._cond:
            return copy.deepcopy(self._log)

    def wait(self, timeout: float = 5.0) -> bool:
        """Block until no attempt is queued (retries included) or in flight; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    # the bus side: under the store lock, in the recording request's thread ---------------------------
    def _on_event(self, event: JSON) -> None:
        thin = thin_events.is_thin(event)
        targets = [
            (endpoint_id, False) for endpoint_id in webhook_endpoints.targets(self.store, event["type"], thin=thin)
        ]
        targets += [(ed_id, True) for ed_id in event_destinations.targets(self.store, event["type"], thin=thin)]
        if not targets:
            return
        now = time.monotonic()
        with self._cond:
            if not thin:
                self._unended[event["id"]] = len(targets)
            for endpoint_id, via_eventbridge in targets:
                heapq.heappush(
                    self._queue,
                    _Attempt(
                        now,
                        next(self._seq),
                        event["id"],
                        event["type"],
                        endpoint_id,
                        1,
                        self._generation,
                        thin,
                        via_eventbridge,
                    ),
                )
            self._cond.notify_all()

    # the worker -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                attempt: _Attempt | None = None
                while attempt is None:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if self._queue and self._queue[0].due <= now:
                        attempt = heapq.heappop(self._queue)
                        self._in_flight.add(attempt.seq)
                    else:
                        self._cond.wait(self._queue[0].due - now if self._queue else None)
            try:
                self._attempt(attempt)
            except Exception as crash:
                if self.on_internal_error is None:
                    logger.exception("stripe emulator: webhook delivery of %s failed", attempt.event_id)
                else:
                    self.on_internal_error(crash)
            finally:
                with self._cond:
                    self._in_flight.discard(attempt.seq)
                    self._cond.notify_all()

    def _current(self, attempt: _Attempt) -> bool:
        with self._cond:
            return attempt.generation == self._generation

    def _attempt(self, attempt: _Attempt) -> None:
        if attempt.eventbridge:
            self._put_to_eventbridge(attempt)
            return
        with self.store.lock:
            if not self._current(attempt):
                return
            event = self.store.get(THIN_EVENT if attempt.thin else EVENT, attempt.event_id)
            endpoint = self.store.get(WEBHOOK_ENDPOINT, attempt.endpoint_id)
        if event is None:
            return
        if endpoint is None or endpoint["status"] != "enabled":
            why = "deleted" if endpoint is None else "disabled"
            url = None if endpoint is None else endpoint["url"]
            self._record(attempt, _Outcome(url, None, f"not attempted: the webhook endpoint is {why}", False))
            return
        if attempt.thin:
            event = thin_events.notification(event)
        else:
            event["api_version"] = endpoint["api_version"] or API_VERSION
        body = json.dumps(event, indent=2, ensure_ascii=False)
        status, error = self._post(endpoint["url"], body, signature_header(body, endpoint["secret"]))
        self._record(attempt, _Outcome(endpoint["url"], status, error, True))

    def _put_to_eventbridge(self, attempt: _Attempt) -> None:
        """One ``PutPartnerEvents`` of the event on the destination's partner event source, if the destination
        is enabled and its source associated (AWS calls made without the store lock)."""
        with self.store.lock:
            if not self._current(attempt):
                return
            event = self.store.get(THIN_EVENT if attempt.thin else EVENT, attempt.event_id)
            destination = self.store.get(EVENT_DESTINATION, attempt.endpoint_id)
            moment = self.store.clock.now_float()
        if event is None:
            return
        if destination is None or destination["status"] != "enabled":
            why = "deleted" if destination is None else "disabled"
            arn = None if destination is None else destination["amazon_eventbridge"]["aws_event_source_arn"]
            self._record(attempt, _Outcome(arn, None, f"not attempted: the event destination is {why}", False))
            return
        arn = destination["amazon_eventbridge"]["aws_event_source_arn"]
        source = eventbridge.source_name(destination["id"])
        status = event_destinations.refresh(self.store, destination)["amazon_eventbridge"]["aws_event_source_status"]
        if status != "active":
            why = f"not attempted: the partner event source {source} is {status}, not active (no event bus yet?)"
            self._record(attempt, _Outcome(arn, None, why, False))
            return
        if attempt.thin:
            event = thin_events.notification(event)
        else:
            event["api_version"] = destination["snapshot_api_version"] or API_VERSION
        region = eventbridge.region_of(arn)
        put = eventbridge.entry(event, source, region, moment)
        size = eventbridge.entry_size(put)
        if size > eventbridge.MAX_ENTRY_BYTES:
            why = f"not attempted: the entry has {size} bytes, over EventBridge's {eventbridge.MAX_ENTRY_BYTES}"
            self._record(attempt, _Outcome(arn, None, why, False))
            return
        status_code, error = eventbridge.sources_of(self.store).put(region, put)
        self._record(attempt, _Outcome(arn, status_code, error, True))

    def _post(self, url: str, body: str, signature: str) -> tuple[int | None, str | None]:
        request = urllib.request.Request(
            url,
            data=body.encode("utf-8"),
            method="POST",
            headers={"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT, "Stripe-Signature": signature},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(_MAX_RESPONSE_BYTES)
                status: int = response.status
                return status, None if 200 <= status < 300 else f"HTTP {status}"
        except urllib.error.HTTPError as error:
            error.close()
            return error.code, f"HTTP {error.code}"
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, TimeoutError):
                return None, f"timed out after {self.timeout:g} s"
            return None, f"connection failed: {reason}"
        except TimeoutError:
            return None, f"timed out after {self.timeout:g} s"
        except (OSError, http.client.HTTPException) as error:
            return None, f"connection failed: {error!r}"

    def _record(self, attempt: _Attempt, outcome: _Outcome) -> None:
        """Log the attempt, schedule the retry, count a success on the event, tell
        ``webhook_endpoints.DELIVERIES_ENDED`` when the event's last delivery has ended (store lock, then ours)."""
        with self.store.lock, self._cond:
            if attempt.generation != self._generation:
                return
            next_retry: float | None = None
            if outcome.attempted and not outcome.delivered and attempt.number <= len(self.retry_delays):
                next_retry = self.retry_delays[attempt.number - 1]
                heapq.heappush(
                    self._queue,
                    _Attempt(
                        time.monotonic() + next_retry,
                        next(self._seq),
                        attempt.event_id,
                        attempt.event_type,
                        attempt.endpoint_id,
                        attempt.number + 1,
                        attempt.generation,
                        attempt.thin,
                        attempt.eventbridge,
                    ),
                )
            self._log.append(
                {
                    "event_id": attempt.event_id,
                    "type": attempt.event_type,
                    "endpoint": attempt.endpoint_id,
                    "url": outcome.url,
                    "attempt": attempt.number,
                    "status": outcome.status,
                    "error": outcome.error,
                    "delivered": outcome.delivered,
                    "time": self.store.clock.now_float(),
                    "next_retry_in": next_retry,
                }
            )
            if outcome.delivered and not attempt.thin:
                event = self.store.get(EVENT, attempt.event_id)
                if event is not None:
                    event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
                    self.store.save(EVENT, event)
            if next_retry is None and not attempt.thin:
                self._delivery_ended(attempt.event_id)
            self._cond.notify_all()

    def _delivery_ended(self, event_id: str) -> None:
        """One delivery of a snapshot event ended (delivered, given up or abandoned); after its last one, run
        the hooks (store lock and ours held)."""
        unended = self._unended.get(event_id, 0) - 1
        if unended > 0:
            self._unended[event_id] = unended
            return
        self._unended.pop(event_id, None)
        event = self.store.get(EVENT, event_id)
        if event is not None:
            for hook in webhook_endpoints.DELIVERIES_ENDED:
                hook(self.store, event, self.store.clock.now())
