"""Drive the test controls of an emulator running elsewhere (another process, ``make local``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from typing import Any


class EmulatorControlError(RuntimeError):
    pass


class EmulatorControl:
    """``EmulatorControl("http://127.0.0.1:12111").reset()`` and friends, over HTTP."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + "/_emulator" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise EmulatorControlError(f"{method} {path}: {error.code} {error.read().decode()}") from None

    def health(self) -> bool:
        return bool(self._call("GET", "/health").get("ok"))

    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed_customer(self, customer_id: str, name: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/customers", {"id": customer_id, "name": name})
        return result

    def now(self) -> int:
        return int(self._call("GET", "/clock")["now"])

    def advance_clock(self, seconds: float) -> int:
        return int(self._call("POST", "/clock", {"advance_seconds": seconds})["now"])

    def set_clock(self, now: float) -> int:
        return int(self._call("POST", "/clock", {"now": now})["now"])

    def inject_fault(self, path_prefix: str = "/", **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/faults", {"path_prefix": path_prefix, **spec})
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def events(self) -> list[dict[str, Any]]:
        """Every recorded Stripe event, oldest first."""
        return list(self._call("GET", "/events")["data"])

    def thin_events(self) -> list[dict[str, Any]]:
        """Every thin event (with ``data``), oldest first."""
        return list(self._call("GET", "/thin_events")["data"])

    def meter_events(self) -> list[dict[str, Any]]:
        """The meter events the meters count, in arrival order."""
        return list(self._call("GET", "/meter_events")["data"])

    def set_meter_processing_lag(self, seconds: float) -> None:
        self._call("POST", "/meter_processing_lag", {"seconds": seconds})

    def meter_processing_lag(self) -> float:
        return float(self._call("GET", "/meter_processing_lag")["seconds"])

    def set_payment_settings(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/payment_settings", changes)
        return result

    def payment_settings(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/payment_settings")
        return result

    def requests_log(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/requests")["data"])

    def clear_requests_log(self) -> None:
        self._call("DELETE", "/requests")

    def internal_errors(self) -> list[dict[str, Any]]:
        """The emulator's own failures since the last reset (see ``StripeEmulator.internal_errors``)."""
        return list(self._call("GET", "/internal_errors")["data"])

    def add_webhook_endpoint(
        self,
        url: str,
        secret: str,
        enabled_events: Iterable[str] = ("*",),
        api_version: str | None = None,
        event_payload: str = "snapshot",
    ) -> dict[str, Any]:
        """A webhook endpoint signing with ``secret`` (see ``StripeEmulator.add_webhook_endpoint``)."""
        body = {
            "url": url,
            "secret": secret,
            "enabled_events": list(enabled_events),
            "api_version": api_version,
            "event_payload": event_payload,
        }
        result: dict[str, Any] = self._call("POST", "/webhook_endpoints", body)
        return result

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook delivery attempt, oldest first."""
        return list(self._call("GET", "/webhook_deliveries")["data"])

    def wait_for_deliveries(self, timeout: float = 5.0) -> bool:
        """Block until no webhook delivery is queued or in flight; ``False`` after ``timeout`` seconds."""
        return bool(self._call("POST", "/webhook_deliveries/wait", {"timeout": timeout}, timeout=timeout + 5)["idle"])
