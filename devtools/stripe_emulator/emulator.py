"""The public entry point: start an emulator in-process and drive its test controls from Python."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from .app import EmulatorApp
from .resources import customers, webhook_endpoints
from .server import EmulatorHTTPServer
from .webhooks import DEFAULT_RETRY_DELAYS, DEFAULT_TIMEOUT


class StripeEmulator:
    """A stateful Stripe API emulator on ``http://host:port`` (``port=0``: any free port).

    Point the real SDK at it::

        with StripeEmulator() as emulator:
            client = stripe.StripeClient(
                "sk_test_emulator",
                base_addresses={"api": emulator.url, "meter_events": emulator.url},
            )
            client.v1.customers.create({"name": "Acme"})

    The Python helpers mirror the HTTP controls under ``/_emulator`` (see :mod:`.controls`).

    Recorded events are delivered to the webhook endpoints (:meth:`add_webhook_endpoint`, or
    ``/v1/webhook_endpoints``) from a background thread while the emulator runs; a failed attempt is
    retried after each of ``webhook_retry_delays`` (seconds of real time; default: ten retries over just
    under 3 days, as Stripe's live mode) and then given up; an attempt fails after ``webhook_timeout``
    seconds without an answer. See :mod:`.webhooks`.

    Amazon EventBridge event destinations (``/v2/core/event_destinations``) create their partner event source
    and put their events through boto3 at ``aws_endpoint_url`` (``None``: boto3's own, i.e. the
    ``AWS_ENDPOINT_URL`` variable, else AWS; moto's in-process ``mock_aws`` needs nothing). See
    :mod:`.eventbridge`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_retry_delays: Iterable[float] = DEFAULT_RETRY_DELAYS,
        webhook_timeout: float = DEFAULT_TIMEOUT,
        aws_endpoint_url: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.app = EmulatorApp(
            webhook_retry_delays=webhook_retry_delays,
            webhook_timeout=webhook_timeout,
            aws_endpoint_url=aws_endpoint_url,
        )
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> str:
        """Bind, serve from a daemon thread, and return the base URL."""
        if self._server is not None:
            return self.url
        self._server = EmulatorHTTPServer((self.host, self.port), self.app)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"stripe-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self.app.webhooks.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and delivering (webhook attempts still queued wait for the next :meth:`start`)."""
        if self._server is None:
            return
        self.app.interrupt_hangs()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.app.webhooks.stop()
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Stripe emulator is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> StripeEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # test controls --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every object (webhook endpoints included), fault, idempotency key, logged request, queued
        webhook delivery and logged attempt; reset the clock."""
        self.app.reset()

    def now(self) -> int:
        return self.app.store.clock.now()

    def seed_customer(self, customer_id: str, name: str | None = None) -> dict[str, Any]:
        """Emulator-only: create a customer with a chosen id (fixed ids for sample events and demos)."""
        return customers.seed(self.app.store, customer_id, name)

    def advance_clock(self, seconds: float) -> int:
        """Move the emulator clock forward and apply what became due (an auto-advancing draft invoice is
        finalized an hour after its creation; ``cancel_at`` cancels); returns the new time."""
        return self.app.advance_clock(seconds)

    def set_clock(self, now: float) -> int:
        """Move the emulator clock to ``now`` (unix time, not in the past), like :meth:`advance_clock`."""
        return self.app.set_clock(now)

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Every recorded Stripe event, oldest first (only those of ``type`` when given)."""
        return [event for event in self.app.recorded_events() if type is None or event["type"] == type]

    def thin_events(self, type: str | None = None) -> list[dict[str, Any]]:
        """Every thin event (``v2.core.event`` with its ``data``: meter error reports), oldest first (only
        those of ``type`` when given). Queued meter events are processed first."""
        return [event for event in self.app.thin_events() if type is None or event["type"] == type]

    def meter_events(self, meter: str | None = None) -> list[dict[str, Any]]:
        """The meter events the meters count (``meter, event_name, customer, value`` (a decimal string)``,
        timestamp, identifier, received_at, source``: ``v1``/``v2``/``stream``), in arrival order; queued
        events are processed first. Refused, duplicate and not-yet-due events are not in it."""
        return [usage for usage in self.app.counted_meter_events() if meter is None or usage["meter"] == meter]

    def set_meter_processing_lag(self, seconds: float) -> None:
        """Summaries and invoices see a meter event only ``seconds`` after it arrived (default 0), as
        Stripe's asynchronous aggregation lags; ``reset()`` sets it back to 0."""
        self.app.set_meter_processing_lag(seconds)

    def meter_processing_lag(self) -> float:
        return self.app.meter_processing_lag()

    def set_payment_settings(self, **changes: Any) -> dict[str, Any]:
        """The account's failed-payment settings: ``retry_days`` (the custom retry schedule, days after the
        previous attempt; default ``[3, 5, 7]``), then ``subscription_status`` (``canceled``, ``unpaid``,
        ``past_due``) and ``invoice_status`` (``past_due``, ``uncollectible``); ``reset()`` restores them."""
        return self.app.set_payment_settings(changes)

    def payment_settings(self) -> dict[str, Any]:
        return self.app.payment_settings()

    def on_event(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener(event)`` for each event recorded from now on, thin events included (under the
        store lock: be quick); returns a function that unsubscribes. Webhook delivery hooks in here too."""
        return self.app.store.bus.subscribe(listener)

    def add_webhook_endpoint(
        self,
        url: str,
        secret: str,
        enabled_events: Iterable[str] = ("*",),
        api_version: str | None = None,
        event_payload: str = "snapshot",
    ) -> dict[str, Any]:
        """Emulator-only: register an enabled webhook endpoint that signs with ``secret`` (the receiver's
        configured one, e.g. ``whsec_local``), as ``POST /v1/webhook_endpoints`` would with a secret of
        Stripe's choosing. ``event_payload="thin"`` registers an event destination for thin events
        (``v1.billing.meter.error_report_triggered``...) instead of snapshot events. Returns the endpoint,
        ``secret`` included; ``ValueError`` for a bad argument."""
        return webhook_endpoints.register(
            self.app.store, url, secret, enabled_events, api_version, event_payload=event_payload
        )

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt, oldest first, as ``{"event_id", "type", "endpoint", "url",
        "attempt", "status", "error", "delivered", "time", "next_retry_in"}``: ``status`` is the HTTP status
        (``None`` without an answer), ``time`` the emulator clock, ``next_retry_in`` the seconds until the
        retry (``None`` once delivered or given up)."""
        return self.app.webhooks.deliveries()

    def wait_for_deliveries(self, timeout: float = 5.0) -> bool:
        """Block until no webhook delivery is queued (retries included) or in flight; ``False`` if some
        still are after ``timeout`` seconds."""
        return self.app.webhooks.wait(timeout)

    def inject_fault(
        self,
        path_prefix: str = "/",
        *,
        method: str | None = None,
        status: int | None = None,
        count: int = 1,
        hang_seconds: float = 0,
        should_retry: bool | None = None,
        error_code: str | None = None,
        idempotent_replay: bool | None = None,
    ) -> dict[str, Any]:
        """Make the next ``count`` matching requests answer ``status`` and/or hang first.

        ``status``: 429 (``error_code`` ``rate_limit`` or ``lock_timeout``), 500/502/503/504, or
        ``None``/200 to answer normally after ``hang_seconds``.
        ``should_retry`` sets ``Stripe-Should-Retry`` (``None``: as Stripe would). ``idempotent_replay``
        says whether a 5xx is saved under the request's ``Idempotency-Key`` (default: yes).
        """
        spec: dict[str, Any] = {
            "path_prefix": path_prefix,
            "method": method,
            "status": status,
            "count": count,
            "hang_seconds": hang_seconds,
            "should_retry": should_retry,
            "error_code": error_code,
            "idempotent_replay": idempotent_replay,
        }
        return self.app.faults.add(spec).as_json()

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        return self.app.faults.active()

    def requests_log(self) -> list[dict[str, Any]]:
        """Every API request served, in arrival order (controls excluded)."""
        return self.app.log.entries()

    def clear_requests_log(self) -> None:
        self.app.log.clear()

    def internal_errors(self) -> list[dict[str, Any]]:
        """The emulator's own failures since the last :meth:`reset` (``clear_requests_log`` keeps them), oldest
        first: ``{"source": "api"|"control"|"webhook_delivery", "method", "path", "request_id", "time",
        "error", "traceback"}``. Each is a bug in the emulator; injected faults are not in it."""
        return self.app.internal_errors.entries()
