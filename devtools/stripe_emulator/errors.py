"""Stripe-shaped errors.

Every failure the emulator answers is a :class:`StripeError`; the server turns it into Stripe's error
envelope ``{"error": {"type", "code", "message", "param", "doc_url", "request_log_url"}}``.

``saved`` says whether the idempotency layer keeps the response for replay. Stripe keeps the result
of a ``POST`` "as long as an API method began execution": errors found while *validating* the request
(unknown or malformed parameters, a missing API key, rate limiting) are not kept, errors raised by
the endpoint itself (a lookup key in use, an unknown product) are
(https://docs.stripe.com/error-low-level#content-errors).
"""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"
API_ERROR = "api_error"
IDEMPOTENCY_ERROR = "idempotency_error"


class StripeError(Exception):
    """An error answered in Stripe's wire format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        saved: bool = True,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.decline_code = decline_code  # card errors: the issuer's reason (https://docs.stripe.com/declines/codes)
        self.param = param
        self.headers = dict(headers or {})
        self.saved = saved

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error["type"] = self.type
        return {"error": error}

    def body_v2(self) -> dict[str, Any]:
        """The API v2 envelope: ``{"error": {"type", "code", "message"}}`` (the SDK's
        ``specific_v2_api_error`` picks the exception by ``type``, then falls back to the HTTP status)."""
        error: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.code:
            error["doc_url"] = f"https://docs.stripe.com/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


class ParamError(StripeError):
    """A 400 found while validating parameters: never saved for idempotent replay."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(400, message, param=param, code=code, saved=False)


def invalid_request(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 raised by an endpoint's own rules (saved for idempotent replay, as Stripe does)."""
    return StripeError(400, message, param=param, code=code)


def resource_missing(label: str, object_id: str, *, param: str, status: int) -> StripeError:
    return StripeError(
        status,
        f"No such {label}: '{object_id}'",
        code="resource_missing",
        param=param,
    )


def unknown_parameter(param: str) -> ParamError:
    return ParamError(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def missing_parameter(param: str) -> ParamError:
    return ParamError(f"Missing required param: {param}.", param=param, code="parameter_missing")


def exclusive_parameters(*params: str) -> ParamError:
    return ParamError(
        f"You may only specify one of these parameters: {', '.join(params)}.",
        param=params[0],
        code="parameters_exclusive",
    )


def unsupported_parameter(param: str) -> ParamError:
    """A parameter Stripe knows but the emulator does not model: fail loudly, never ignore it."""
    return ParamError(
        f"The Stripe emulator does not model the parameter `{param}` yet (Stripe accepts it). "
        "Extend devtools/stripe_emulator if the project needs it.",
        param=param,
        code="emulator_unsupported_parameter",
    )


def unrecognized_url(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
        saved=False,
    )
