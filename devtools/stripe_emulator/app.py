"""The emulator's request pipeline, independent of the HTTP server.

For an API request, in order (mirroring Stripe's layers, https://docs.stripe.com/error-low-level):

1. authentication: ``Authorization: Bearer sk_test_...`` (or ``rk_test_``; Basic auth as curl sends it);
   the meter event stream takes a live meter event session token instead;
2. routing: unknown method/path -> 404 "Unrecognized request URL";
3. fault injection: a matching 429 is answered now, before the idempotency layer, and never saved;
4. idempotency (``POST`` with ``Idempotency-Key``): replay, ``idempotency_error``, or claim the key;
5. a matching hang sleeps; a matching 5xx answers ``api_error`` (saved under the key by default on v1);
6. the endpoint: parameters validated against its schema (errors not saved), ``expand`` checked, the
   clock rules applied (what time made due), the handler run under the store lock, ``expand`` applied;
   endpoint errors are saved under the key (v1).

API v2 (``/v2/...``) differs (https://docs.stripe.com/api/idempotent_requests: "With API v2, retries don't
repeat successful operations. Stripe retries failed or partially failed work"): only a successful answer is
kept for replay, a failed one (error or 5xx) is run again on retry; and errors use the v2 envelope
``{"error": {"type", "code", "message"}}`` that the SDK maps by ``type`` (``temporary_session_expired`` ->
``TemporarySessionExpiredError``, else by status like v1).

Every response carries ``Request-Id`` and ``Stripe-Version``; every API request is logged. An exception that
is not a :class:`StripeError` is a bug in the emulator (:mod:`.crashes`): answered 500 ``api_error``, logged
with ``internal_error: true`` and kept in the internal errors until reset.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import eventbridge, expand, rendering
from .controls import handle_control
from .crashes import EntryLog, InternalErrorLog, short_traceback, summary
from .errors import API_ERROR, INVALID_REQUEST, ParamError, StripeError
from .faults import Fault, FaultInjector
from .forms import FormDict, FormError, canonical, decode_form
from .idempotency import IdempotencyCache, SavedResponse
from .resources import CLOCK_RULES, KINDS, ROUTES, connect_hooks, meter_events, payments
from .resources.events import API_VERSION
from .resources.kinds import EVENT, THIN_EVENT
from .routing import Call, ClockRule, Route, Router
from .store import JSON, Store, random_token
from .webhooks import DEFAULT_RETRY_DELAYS, DEFAULT_TIMEOUT, WebhookDispatcher
from .wire import HttpRequest, HttpResponse

DEFAULT_API_VERSION = API_VERSION  # "2026-10-28.endive", the version the SDK pins
ACCEPTED_KEY_PREFIXES = ("sk_test_", "rk_test_")
CONTROL_PREFIX = "/_emulator"
MAX_CLOCK_STEPS = 100_000

logger = logging.getLogger("stripe_emulator")


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    idempotency_key: str | None
    time: float
    request_id: str
    idempotent_replayed: bool
    internal_error: bool = False  # an exception in the emulator answered 500 (never an injected fault)
    error: str | None = None  # the exception: "KeyError: 'next_invoice_sequence'"
    traceback: list[str] | None = None  # its innermost frames, innermost last
    api_key: str | None = None  # the key presented, masked as Stripe shows keys ("sk_test_****d000"); None: none

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RequestLog(EntryLog[LoggedRequest]):
    """Every API request served, in arrival order."""


def _mask_key(key: str) -> str:
    """``sk_live_invalid000`` -> ``sk_live_******d000``, as Stripe shows keys in errors."""
    parts = key.split("_")
    prefix = "_".join(parts[:2]) + "_" if len(parts) > 2 else ""
    hidden = max(len(key) - len(prefix) - 4, 0)
    return prefix + "*" * hidden + key[len(prefix) + hidden :]


def _presented_key(request: HttpRequest) -> str:
    authorization = request.header("Authorization") or ""
    scheme, _, credentials = authorization.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(credentials.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    return key


def _authenticate(request: HttpRequest) -> str:
    key = _presented_key(request)
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the Authorization "
            "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
            "https://stripe.com/docs/api#authentication for details, or we can help at "
            "https://support.stripe.com/.",
            saved=False,
        )
    if not key.startswith(ACCEPTED_KEY_PREFIXES) or len(key) <= len("sk_test_"):
        raise StripeError(401, f"Invalid API Key provided: {_mask_key(key)}", saved=False)
    return key


def _rate_limited(fault: Fault) -> StripeError:
    should_retry: bool | None
    if fault.error_code == "lock_timeout":
        message = (
            "This object cannot be accessed right now because another API request or Stripe process is "
            "currently accessing it. If you see this error intermittently, retry the request. If you see "
            "this error frequently and are making multiple concurrent requests to a single object, make "
            "your requests serially or at a lower rate. See https://stripe.com/docs/rate-limits for more "
            "details."
        )
        should_retry = True if fault.should_retry is None else fault.should_retry
    else:
        message = (
            "Request rate limit exceeded. You can learn more about rate limits here "
            "https://stripe.com/docs/rate-limits."
        )
        should_retry = fault.should_retry
    headers = {} if should_retry is None else {"Stripe-Should-Retry": str(should_retry).lower()}
    return StripeError(
        429,
        message,
        type=INVALID_REQUEST,
        code=fault.error_code or "rate_limit",
        headers=headers,
        saved=False,
    )


def _server_error(fault: Fault, saved_under_key: bool) -> StripeError:
    status = fault.status or 500
    should_retry = fault.should_retry
    if should_retry is None and saved_under_key:
        # Stripe tells clients not to retry a 500 it has saved: the retry would only replay it.
        should_retry = False
    headers = {} if should_retry is None else {"Stripe-Should-Retry": str(should_retry).lower()}
    return StripeError(
        status,
        "An unknown error occurred while processing your request. (Injected by the Stripe emulator.)",
        type=API_ERROR,
        headers=headers,
        saved=fault.saved,
    )


def _internal_error(crash: Exception) -> StripeError:
    return StripeError(
        500,
        f"The Stripe emulator failed: {summary(crash)}. This is a bug in the emulator, not an answer Stripe "
        "would give: see GET /_emulator/internal_errors and the emulator's log.",
        type=API_ERROR,
        headers={"Stripe-Should-Retry": "false"},  # a retry meets the same bug
        saved=False,
    )


class EmulatorApp:
    """State plus the pipeline; the HTTP server and :class:`StripeEmulator` sit on top of it."""

    def __init__(
        self,
        routes: Iterable[Route] = ROUTES,
        clock_rules: Iterable[ClockRule] = CLOCK_RULES,
        *,
        webhook_retry_delays: Iterable[float] = DEFAULT_RETRY_DELAYS,
        webhook_timeout: float = DEFAULT_TIMEOUT,
        aws_endpoint_url: str | None = None,
    ) -> None:
        connect_hooks()
        self.store = Store()
        # Amazon EventBridge event destinations: their partner event sources and events (None: boto3's endpoint).
        eventbridge.attach(self.store, eventbridge.PartnerEventSources(aws_endpoint_url))
        self.clock_rules = tuple(clock_rules)
        self.faults = FaultInjector()
        self.idempotency = IdempotencyCache()
        self.log = RequestLog()
        self.internal_errors = InternalErrorLog()
        self.router = Router(routes)
        # Delivers the events published on store.bus; its worker runs between start() and stop().
        self.webhooks = WebhookDispatcher(
            self.store,
            retry_delays=webhook_retry_delays,
            timeout=webhook_timeout,
            on_internal_error=lambda error: self.internal_errors.report(
                error, source="webhook_delivery", time=self.store.clock.now_float()
            ),
        )
        self._interrupt = threading.Event()
        self._interrupt_lock = threading.Lock()

    # controls -------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.interrupt_hangs()
        with self.store.lock:
            self.store.reset()
            self.webhooks.reset()
        eventbridge.sources_of(self.store).forget_clients()
        self.faults.clear()
        self.idempotency.reset()
        self.log.clear()
        self.internal_errors.clear()

    def recorded_events(self) -> list[dict[str, Any]]:
        """Every Stripe event recorded so far, oldest first."""
        with self.store.lock:
            return list(reversed(self.store.all(EVENT)))

    def thin_events(self) -> list[dict[str, Any]]:
        """Every thin event (``v2.core.event``, with ``data``) recorded so far, oldest first; processes the
        queued meter events first."""
        with self.store.lock:
            self.tick()
            return list(reversed(self.store.all(THIN_EVENT)))

    def counted_meter_events(self) -> list[dict[str, Any]]:
        """Every meter event the meters count, in arrival order (processes the queued ones first)."""
        with self.store.lock:
            self.tick()
            return [usage.as_json() for usage in meter_events.ledger_of(self.store).accepted]

    def set_meter_processing_lag(self, seconds: float) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError("the processing lag is a number of seconds >= 0")
        with self.store.lock:
            meter_events.ledger_of(self.store).processing_lag = float(seconds)
            return float(seconds)

    def meter_processing_lag(self) -> float:
        with self.store.lock:
            return meter_events.ledger_of(self.store).processing_lag

    def payment_settings(self) -> dict[str, Any]:
        with self.store.lock:
            return payments.settings_of(self.store).as_json()

    def set_payment_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the account's failed-payment settings (see ``resources/payments.py``); reset restores them."""
        return payments.configure(self.store, changes)

    def tick(self) -> None:
        """Apply what time has made due (queued meter events, renewals, scheduled cancellations,
        auto-advancing invoices), stepping through the due times in order: at each, every rule applies what
        is due by then, so work one rule creates (a renewal's draft) falls due for another (its
        finalization) in the same tick, in time order."""
        with self.store.lock:
            now = self.store.clock.now_float()
            for _ in range(MAX_CLOCK_STEPS):
                due = [at for rule in self.clock_rules if (at := rule.next_due(self.store)) is not None and at <= now]
                if not due:
                    return
                moment = min(due)
                for rule in self.clock_rules:
                    rule.apply(self.store, moment)
            logger.error("stripe emulator: clock rules still due after %d steps", MAX_CLOCK_STEPS)

    def advance_clock(self, seconds: float) -> int:
        """Move the emulator clock forward and apply what became due."""
        with self.store.lock:
            now = self.store.clock.advance(seconds)
            self.tick()
            return now

    def set_clock(self, now: float) -> int:
        with self.store.lock:
            moved = self.store.clock.set(now)
            self.tick()
            return moved

    def interrupt_hangs(self) -> None:
        """Wake every request sleeping in an injected hang (reset and shutdown do this)."""
        with self._interrupt_lock:
            self._interrupt.set()
            self._interrupt = threading.Event()

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._interrupt_lock:
                interrupt = self._interrupt
            interrupt.wait(seconds)

    # pipeline -------------------------------------------------------------------------------------
    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return self._handle_control(request)
        request_id = "req_" + random_token(14)
        version = request.header("Stripe-Version") or DEFAULT_API_VERSION
        idempotency_key = request.header("Idempotency-Key") if request.method == "POST" else None
        crash: Exception | None = None
        try:
            response, replayed = self._serve(request, request_id, idempotency_key)
        except StripeError as error:
            response, replayed = self._error_response(error, request_id, _is_v2(request.path)), False
        except Exception as error:
            crash = error
            self.internal_errors.report(
                error,
                source="api",
                time=self.store.clock.now_float(),
                method=request.method,
                path=request.path,
                request_id=request_id,
            )
            response, replayed = self._error_response(_internal_error(error), request_id, _is_v2(request.path)), False
        response.headers["Request-Id"] = request_id
        response.headers["Stripe-Version"] = version
        if idempotency_key:
            response.headers.setdefault("Idempotency-Key", idempotency_key)
        self.log.add(
            LoggedRequest(
                method=request.method,
                path=request.path,
                status=response.status,
                idempotency_key=idempotency_key,
                time=self.store.clock.now_float(),
                request_id=request_id,
                idempotent_replayed=replayed,
                internal_error=crash is not None,
                error=summary(crash) if crash is not None else None,
                traceback=short_traceback(crash) if crash is not None else None,
                api_key=_mask_key(_presented_key(request)) or None,
            )
        )
        return response

    def _handle_control(self, request: HttpRequest) -> HttpResponse:
        try:
            return handle_control(self, request)
        except Exception as failure:
            now = self.store.clock.now_float()
            self.internal_errors.report(failure, source="control", time=now, method=request.method, path=request.path)
            return HttpResponse.json(500, {"error": {"type": API_ERROR, "message": _internal_error(failure).message}})

    @staticmethod
    def _error_response(error: StripeError, request_id: str, v2: bool) -> HttpResponse:
        body = error.body_v2() if v2 else error.body(request_id)
        return HttpResponse.json(error.status, body, error.headers)

    def _authenticate_for(self, route: Route, request: HttpRequest) -> None:
        if route.auth == "meter_event_session":
            key = _presented_key(request)
            if not key:
                _authenticate(request)  # Stripe's "You did not provide an API key" 401
            with self.store.lock:
                meter_events.authenticate_session(self.store, key)
        else:
            _authenticate(request)

    def _serve(self, request: HttpRequest, request_id: str, idempotency_key: str | None) -> tuple[HttpResponse, bool]:
        try:
            route, path_params = self.router.match(request.method, request.path)
        except StripeError:
            _authenticate(request)  # an unauthenticated request is refused before its URL is looked at
            raise
        self._authenticate_for(route, request)
        fault = self.faults.take(request.method, request.path)
        if fault is not None and fault.rate_limited:
            self._sleep(fault.hang_seconds)
            raise _rate_limited(fault)
        tree = self._decode(request, route)
        if not idempotency_key:
            response, _ = self._execute(
                route,
                path_params=path_params,
                tree=tree,
                request=request,
                request_id=request_id,
                fault=fault,
                idempotency_key=None,
                v2=route.api == "v2",
            )
            return response, False
        fingerprint = json.dumps(canonical(tree), sort_keys=True)
        saved = self.idempotency.begin(
            idempotency_key, request.method, request.path, fingerprint, self.store.clock.now_float()
        )
        if saved is not None:
            headers = dict(saved.headers)
            headers["Idempotent-Replayed"] = "true"
            headers["Original-Request"] = saved.request_id
            return HttpResponse(saved.status, saved.body, headers), True
        keep: SavedResponse | None = None
        try:
            response, save = self._execute(
                route,
                path_params=path_params,
                tree=tree,
                request=request,
                request_id=request_id,
                fault=fault,
                idempotency_key=idempotency_key,
                v2=route.api == "v2",
            )
            if route.api == "v2":
                save = 200 <= response.status < 300  # v2 keeps successes only: a failure is retried for real
            if save:
                keep = SavedResponse(
                    method=request.method,
                    path=request.path,
                    fingerprint=fingerprint,
                    status=response.status,
                    headers=tuple(response.headers.items()),
                    body=response.body,
                    request_id=request_id,
                    saved_at=self.store.clock.now_float(),
                )
            return response, False
        finally:
            self.idempotency.finish(idempotency_key, keep)

    @staticmethod
    def _decode(request: HttpRequest, route: Route) -> FormDict | dict[str, Any]:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if request.method in ("GET", "DELETE") or not request.body:
                return decode_form(request.query)
            if content_type == "application/json" or route.api == "v2":
                payload = json.loads(request.body or b"{}")
                if not isinstance(payload, dict):
                    raise ParamError("The request body must be a JSON object.")
                return payload
            return decode_form(request.body.decode())
        except FormError as error:
            raise ParamError("Invalid object", param=error.param) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ParamError("The request body could not be decoded.") from None

    def _execute(
        self,
        route: Route,
        *,
        path_params: dict[str, str],
        tree: FormDict | dict[str, Any],
        request: HttpRequest,
        request_id: str,
        fault: Fault | None,
        idempotency_key: str | None,
        v2: bool = False,
    ) -> tuple[HttpResponse, bool]:
        """Run the endpoint (or the injected fault): the response, and whether idempotency keeps it."""
        try:
            if fault is not None:
                self._sleep(fault.hang_seconds)
                if fault.status is not None:
                    saved = bool(idempotency_key) and fault.saved and not v2
                    raise _server_error(fault, saved_under_key=saved)
            params = route.params.coerce(tree, "")
            expand_paths: list[str] = params.pop("expand", None) or []
            expand.validate(expand_paths, route.returns, route.is_list, KINDS)
            with self.store.lock:
                self.tick()
                call = Call(
                    self.store,
                    params,
                    path_params,
                    self.store.clock.now(),
                    request.path,
                    request_id=request_id,
                    idempotency_key=idempotency_key,
                )
                result: JSON = copy.deepcopy(route.handler(call))
                expand.apply(result, expand_paths, self.store, KINDS)
                rendering.render(result)
            return HttpResponse.json(200, result), True
        except StripeError as error:
            return self._error_response(error, request_id, v2), error.saved


def _is_v2(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")
