"""Linking funders to Stripe customers (PUT/GET /funders/{funder_id})."""

from __future__ import annotations

from dataclasses import dataclass

from incytes_billing.domain.audit import AuditedService
from incytes_billing.errors import (
    ConcurrentUpdate,
    CurrencyMismatch,
    FunderLocked,
    FunderNotFound,
    SeatsChangeNeedsSubscriptionRoute,
    StripeCustomerInUse,
    StripeCustomerNotFound,
)
from incytes_billing.models.common import DEFAULT_CURRENCY, SUPPORTED_CURRENCIES, Currency
from incytes_billing.models.funder import Funder, FunderUpsert
from incytes_billing.ports import CustomerDirectory, FunderRepository

DEFAULT_SEATS = 1
# Two writers racing on one funder: re-read and re-decide a few times before giving up with a 409.
MAX_WRITE_ATTEMPTS = 3


@dataclass(eq=False)
class FunderService(AuditedService):
    funders: FunderRepository
    customers: CustomerDirectory

    def get(self, funder_id: str) -> Funder:
        funder = self.funders.get(funder_id)
        if funder is None:
            raise FunderNotFound(funder_id)
        return funder

    def upsert(self, funder_id: str, request: FunderUpsert) -> Funder:
        for _ in range(MAX_WRITE_ATTEMPTS):
            existing = self.funders.get(funder_id)
            funder = self._decide(funder_id, request, existing)
            if existing is not None and _same_link(funder, existing):
                return existing  # a replay of the stored state: no write, no new version
            try:
                self.funders.save(funder, expected_version=existing.version if existing else None)
            except ConcurrentUpdate:
                continue
            self._audit_link(existing, funder)
            return funder
        raise ConcurrentUpdate(f"Funder '{funder_id}' is being changed by another request; retry.")

    def _audit_link(self, existing: Funder | None, saved: Funder) -> None:
        """A link set, changed or cleared is a billing action; a rename or a first save without one is not."""
        previous = existing.stripe_customer_id if existing is not None else None
        if saved.stripe_customer_id == previous:
            return
        if saved.stripe_customer_id is None:
            self.audit.record(saved.funder_id, "funder.unlinked", previous_customer_id=previous)
        else:
            self.audit.record(
                saved.funder_id,
                "funder.linked",
                customer_id=saved.stripe_customer_id,
                previous_customer_id=previous,
                currency=saved.currency,
            )

    def _decide(self, funder_id: str, request: FunderUpsert, existing: Funder | None) -> Funder:
        given = request.model_fields_set
        customer_id = (
            request.stripe_customer_id
            if "stripe_customer_id" in given
            else (existing.stripe_customer_id if existing else None)
        )
        currency: Currency | None = request.currency or (existing.currency if existing else None)
        seats = request.seats or (existing.seats if existing else DEFAULT_SEATS)

        if existing is not None and existing.is_subscribed:
            self._refuse_relink_while_subscribed(existing, customer_id, currency)
            if request.seats is not None and request.seats != existing.seats:
                raise SeatsChangeNeedsSubscriptionRoute(funder_id)  # else the funder and Stripe disagree

        customer_changed = existing is None or customer_id != existing.stripe_customer_id
        currency_changed = existing is not None and currency != existing.currency
        if customer_id is not None and customer_changed:
            holder = self.funders.find_by_customer(customer_id)
            if holder is not None and holder.funder_id != funder_id:
                raise StripeCustomerInUse(customer_id, holder.funder_id)
        if customer_id is not None and (customer_changed or currency_changed):
            currency = self._checked_currency(customer_id, currency)

        now = self.clock()
        return Funder(
            funder_id=funder_id,
            name=request.name,
            stripe_customer_id=customer_id,
            currency=currency or DEFAULT_CURRENCY,
            seats=seats,
            subscription=existing.subscription if existing else None,
            created_at=existing.created_at if existing else now,
            updated_at=now,
            version=(existing.version + 1) if existing else 1,
        )

    @staticmethod
    def _refuse_relink_while_subscribed(existing: Funder, customer_id: str | None, currency: str | None) -> None:
        assert existing.subscription is not None
        subscription_id = existing.subscription.subscription_id
        if customer_id != existing.stripe_customer_id:
            raise FunderLocked(
                f"Funder '{existing.funder_id}' has subscription {subscription_id}: its Stripe customer "
                "cannot change until that subscription is canceled."
            )
        if currency != existing.currency:
            raise FunderLocked(
                f"Funder '{existing.funder_id}' has subscription {subscription_id}: its currency "
                "cannot change until that subscription is canceled."
            )

    def _checked_currency(self, customer_id: str, currency: Currency | None) -> Currency | None:
        """Verify the customer exists and bills in `currency`; a new funder adopts the customer's currency."""
        customer = self.customers.get_customer(customer_id)
        if customer is None or customer.deleted:
            raise StripeCustomerNotFound(customer_id, deleted=customer is not None)
        if customer.currency is None or customer.currency == currency:
            return currency
        if currency is None and customer.currency in SUPPORTED_CURRENCIES:
            return SUPPORTED_CURRENCIES[customer.currency]
        raise CurrencyMismatch(customer_id, customer.currency, currency or DEFAULT_CURRENCY)


def _same_link(a: Funder, b: Funder) -> bool:
    fields = ("name", "stripe_customer_id", "currency", "seats")
    return all(getattr(a, field) == getattr(b, field) for field in fields)
