"""Domain errors. Each carries the HTTP contract's error code and status, so handlers only map them."""

from __future__ import annotations

from typing import Any, ClassVar


class BillingError(Exception):
    """An expected failure with a contract error code (docs/contract.md). Each kind names its HTTP status and
    code where it is declared: `class FunderNotFound(BillingError, status=404, code="funder_not_found")`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init_subclass__(cls, *, status: int, code: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status
        cls.code = code

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        # Set when retrying later can succeed: answered as a Retry-After header.
        self.retry_after_seconds = retry_after_seconds


class ValidationFailed(BillingError, status=422, code="validation_error"):
    pass


class FunderNotFound(BillingError, status=404, code="funder_not_found"):
    def __init__(self, funder_id: str) -> None:
        super().__init__(f"No funder with id '{funder_id}' exists.")


class StripeCustomerNotFound(BillingError, status=422, code="stripe_customer_not_found"):
    def __init__(self, customer_id: str, *, deleted: bool) -> None:
        state = "has been deleted" if deleted else "does not exist"
        super().__init__(f"Stripe customer '{customer_id}' {state} in the Stripe account.")


class CurrencyMismatch(BillingError, status=422, code="currency_mismatch"):
    def __init__(self, customer_id: str, customer_currency: str, requested: str) -> None:
        super().__init__(
            f"Stripe customer '{customer_id}' already bills in {customer_currency.upper()}; "
            f"a funder linked to it cannot use {requested.upper()}."
        )


class StripeCustomerInUse(BillingError, status=409, code="stripe_customer_in_use"):
    def __init__(self, customer_id: str, other_funder_id: str) -> None:
        super().__init__(
            f"Stripe customer '{customer_id}' is already linked to funder '{other_funder_id}'; "
            "a customer bills one funder (its webhooks must name one)."
        )


class FunderLocked(BillingError, status=409, code="funder_locked"):
    pass


class ConcurrentUpdate(BillingError, status=409, code="concurrent_update"):
    pass


class StripeUnavailable(BillingError, status=503, code="stripe_unavailable"):
    """Stripe could not be reached, throttled us or failed: the caller should retry later."""

    def __init__(self, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds)


class StripeRejected(BillingError, status=422, code="stripe_rejected"):
    """Stripe refused the request for a reason about the customer or the request itself."""


# --- subscriptions -----------------------------------------------------------------------------------------


class StripeCustomerMissing(BillingError, status=409, code="stripe_customer_missing"):
    def __init__(self, funder_id: str) -> None:
        super().__init__(
            f"Funder '{funder_id}' has no Stripe Customer ID. Update the funder's Stripe Customer ID "
            f"(PUT /funders/{funder_id} with stripe_customer_id) before generating a subscription."
        )


class SubscriptionExists(BillingError, status=409, code="subscription_exists"):
    def __init__(self, funder_id: str, subscription_id: str) -> None:
        super().__init__(f"Funder '{funder_id}' already has subscription {subscription_id}.")


class SubscriptionInProgress(BillingError, status=409, code="subscription_in_progress"):
    def __init__(self, funder_id: str, retry_after_seconds: int) -> None:
        super().__init__(
            f"A subscription for funder '{funder_id}' is being created by another request; retry shortly.",
            retry_after_seconds=retry_after_seconds,
        )


class CatalogIncomplete(BillingError, status=409, code="catalog_incomplete"):
    def __init__(self, lookup_key: str) -> None:
        super().__init__(
            f"The Stripe catalog has no active price with lookup key '{lookup_key}'; run the catalog bootstrap."
        )


class SubscriptionMissing(BillingError, status=409, code="subscription_missing"):
    def __init__(self, funder_id: str) -> None:
        super().__init__(f"Funder '{funder_id}' has no active subscription.")


class FirstInvoicePendingReview(BillingError, status=409, code="first_invoice_pending_review"):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(
            f"The first invoice {invoice_id} is still a draft awaiting Finance's review; seats can change "
            "once it is approved, so that its amount does not silently go stale."
        )


class SeatItemMissing(BillingError, status=409, code="seat_item_missing"):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"Subscription {subscription_id} has no subscriber-seat item to change.")


class SubscriptionNotFound(BillingError, status=422, code="subscription_not_found"):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"Stripe has no subscription '{subscription_id}'.")


class SubscriptionCustomerMismatch(BillingError, status=422, code="subscription_customer_mismatch"):
    def __init__(self, subscription_id: str, subscription_customer: str, funder_customer: str) -> None:
        super().__init__(
            f"Subscription {subscription_id} belongs to Stripe customer {subscription_customer}, "
            f"not to the funder's customer {funder_customer}."
        )


class SubscriptionCanceled(BillingError, status=422, code="subscription_canceled"):
    def __init__(self, subscription_id: str, status: str) -> None:
        super().__init__(f"Subscription {subscription_id} is {status} and cannot be linked.")


class SmsItemRequired(BillingError, status=422, code="sms_item_required"):
    def __init__(self, subscription_id: str, sms_product_id: str) -> None:
        super().__init__(
            f"Subscription {subscription_id} has no SMS item (product {sms_product_id}); every subscription "
            "must bill SMS."
        )


class SubscriptionLinkedElsewhere(BillingError, status=409, code="subscription_linked_elsewhere"):
    def __init__(self, subscription_id: str, other_funder_id: str) -> None:
        super().__init__(f"Subscription {subscription_id} is already linked to funder '{other_funder_id}'.")


# --- webhooks ----------------------------------------------------------------------------------------------


class CustomerHasSubscription(BillingError, status=409, code="customer_has_subscription"):
    """The customer already has a live subscription this funder is not billed by: meters count per customer,
    so a second one would bill seats, cases and SMS twice."""

    def __init__(self, funder_id: str, customer_id: str, subscription_ids: list[str]) -> None:
        listed = ", ".join(subscription_ids)
        super().__init__(
            f"Stripe customer '{customer_id}' already has a live subscription ({listed}). Link it to funder "
            f"'{funder_id}' with PUT /funders/{funder_id}/subscription, or cancel it in Stripe, instead of "
            "creating a second one (usage would be billed twice)."
        )


class SeatsChangeNeedsSubscriptionRoute(BillingError, status=409, code="seats_change_requires_subscription_route"):
    def __init__(self, funder_id: str) -> None:
        super().__init__(
            f"Funder '{funder_id}' is subscribed: change its seats with PATCH /funders/{funder_id}/subscription, "
            "so that Stripe bills the new count."
        )


class InvoiceCustomerDeleted(BillingError, status=409, code="invoice_customer_deleted"):
    def __init__(self, invoice_id: str, customer_id: str) -> None:
        super().__init__(
            f"Invoice '{invoice_id}' cannot be approved: its Stripe customer '{customer_id}' has been deleted."
        )


class InvoiceSubscriptionCanceled(BillingError, status=409, code="invoice_subscription_canceled"):
    def __init__(self, invoice_id: str, subscription_id: str) -> None:
        super().__init__(
            f"Invoice '{invoice_id}' cannot be approved: its subscription '{subscription_id}' is canceled."
        )


class InvoiceSubscriptionNotLinked(BillingError, status=409, code="invoice_subscription_not_linked"):
    def __init__(self, invoice_id: str, subscription_id: str, funder_id: str) -> None:
        super().__init__(
            f"Invoice '{invoice_id}' belongs to subscription '{subscription_id}', which is not linked to funder "
            f"'{funder_id}'. Link it first (PUT /funders/{funder_id}/subscription) or cancel it in Stripe."
        )


class InvalidSignature(BillingError, status=400, code="invalid_signature"):
    pass


class InvalidPayload(BillingError, status=400, code="invalid_payload"):
    pass


class ForeignEvent(Exception):
    """A queued EventBridge event not from a partner event source this stack was configured for, or not on our
    account's bus: never applied. Retrying cannot change that, so it is refused, counted and logged, not retried."""


class RetryLater(Exception):
    """The event cannot be applied yet (e.g. its customer is not linked yet): leave it for a later retry."""


# --- invoices ----------------------------------------------------------------------------------------------


class InvoiceNotFound(BillingError, status=404, code="invoice_not_found"):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"No invoice '{invoice_id}' of an inCytes funder exists.")


class InvoiceNotDraft(BillingError, status=409, code="invoice_not_draft"):
    def __init__(self, invoice_id: str, status: str) -> None:
        super().__init__(f"Invoice {invoice_id} is {status}: only a draft can be approved.")


# --- usage -------------------------------------------------------------------------------------------------


class UsageConflict(BillingError, status=409, code="usage_conflict"):
    def __init__(self, usage_id: str) -> None:
        super().__init__(f"Usage record '{usage_id}' was already recorded with another kind, quantity or time.")


class UsageOutOfWindow(BillingError, status=422, code="usage_out_of_window"):
    pass


class MeterEventRejected(Exception):
    """Stripe refused a meter event for good (e.g. its timestamp is outside the accepted window)."""
