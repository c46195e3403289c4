"""Domain errors. Each carries the HTTP contract's error code and status, so handlers only map them."""

from __future__ import annotations

from typing import Any, ClassVar


class BillingError(Exception):
    """An expected failure with a contract error code (DESIGN §3)."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(BillingError):
    status = 422
    code = "validation_error"


class FunderNotFound(BillingError):
    status = 404
    code = "funder_not_found"

    def __init__(self, funder_id: str) -> None:
        super().__init__(f"No funder with id '{funder_id}' exists.")


class StripeCustomerNotFound(BillingError):
    status = 422
    code = "stripe_customer_not_found"

    def __init__(self, customer_id: str, *, deleted: bool) -> None:
        state = "has been deleted" if deleted else "does not exist"
        super().__init__(f"Stripe customer '{customer_id}' {state} in the Stripe account.")


class CurrencyMismatch(BillingError):
    status = 422
    code = "currency_mismatch"

    def __init__(self, customer_id: str, customer_currency: str, requested: str) -> None:
        super().__init__(
            f"Stripe customer '{customer_id}' already bills in {customer_currency.upper()}; "
            f"a funder linked to it cannot use {requested.upper()}."
        )


class FunderLocked(BillingError):
    status = 409
    code = "funder_locked"


class ConcurrentUpdate(BillingError):
    status = 409
    code = "concurrent_update"


class StripeUnavailable(BillingError):
    """Stripe could not be reached, throttled us or failed: the caller should retry later."""

    status = 503
    code = "stripe_unavailable"

    def __init__(self, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class StripeRejected(BillingError):
    """Stripe refused the request for a reason about the customer or the request itself."""

    status = 422
    code = "stripe_rejected"
