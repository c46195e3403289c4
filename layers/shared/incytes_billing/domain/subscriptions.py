"""Funder subscriptions: the one-click path, linking manual ones, seats and cancellation.

Exactly one subscription per click, whatever happens: a conditional claim on the funder serialises concurrent
requests; each attempt gets its own deterministic Stripe idempotency key (Stripe replays a saved 500 for the
same key, so a failed attempt must not poison the next); and before creating, Stripe is searched for a
subscription already tagged with the funder (a crash after Stripe succeeded but before DynamoDB was written).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from incytes_billing.domain.audit import AuditedService
from incytes_billing.domain.funder_updates import update_funder
from incytes_billing.domain.policy import SubscriptionPolicy
from incytes_billing.errors import (
    BillingError,
    CatalogIncomplete,
    ConcurrentUpdate,
    CustomerHasSubscription,
    FirstInvoicePendingReview,
    FunderNotFound,
    SeatItemMissing,
    SmsItemRequired,
    StripeCustomerMissing,
    SubscriptionCanceled,
    SubscriptionCustomerMismatch,
    SubscriptionExists,
    SubscriptionInProgress,
    SubscriptionLinkedElsewhere,
    SubscriptionMissing,
    SubscriptionNotFound,
)
from incytes_billing.models.audit import AuditDetail
from incytes_billing.models.catalog import CatalogConfig
from incytes_billing.models.common import SUPPORTED_CURRENCIES, Currency, ReviewStatus
from incytes_billing.models.funder import Funder
from incytes_billing.models.stripe import FIRST_INVOICE_REASON, NewSubscription, StripeInvoice, StripeSubscription
from incytes_billing.models.subscription import (
    LIVE_SUBSCRIPTION_STATUSES,
    CancelWhen,
    FirstInvoice,
    FunderSubscription,
    ItemKind,
    SubscriptionOrigin,
    billing_period,
    recorded_items,
)
from incytes_billing.ports import FunderRepository, SubscriptionGateway


@dataclass(eq=False)
class SubscriptionService(AuditedService):
    funders: FunderRepository
    stripe: SubscriptionGateway
    catalog: CatalogConfig
    policy: SubscriptionPolicy

    def __post_init__(self) -> None:
        self._kind_of_product: dict[str, ItemKind] = dict(self.catalog.kind_of_product())

    # --- POST: the one-click subscription ----------------------------------------------------------------

    def create(self, funder_id: str, *, seats: int | None, currency: Currency | None) -> Funder:
        funder = self._require_funder(funder_id)
        customer_id = self._require_customer(funder)
        if funder.subscription is not None and funder.subscription.is_live:
            raise SubscriptionExists(funder_id, funder.subscription.subscription_id)
        currency = currency or funder.currency
        seats = seats or funder.seats
        prices = self._catalog_prices(currency)

        claimed = self._claim(funder_id)
        try:
            subscription = self._find_or_create(claimed, customer_id, currency, seats, prices)
            if subscription.schedule_id is not None:
                # Released, later changes act on a plain subscription, not on the schedule's phases.
                self.stripe.release_schedule(subscription.schedule_id)
            first_invoice = self._hold_first_invoice(subscription.latest_invoice_id)
        except BillingError:
            self._release_claim(funder_id, claimed.subscription_attempts)
            raise
        held = _first_invoice(first_invoice) if first_invoice is not None else None
        record = self._record(subscription, "automatic", held, schedule_id=subscription.schedule_id)
        stored = self._store(funder_id, record, seats=seats)
        self.audit.record(
            funder_id,
            "subscription.created",
            subscription_id=subscription.subscription_id,
            customer_id=customer_id,
            currency=currency,
            seats=seats,
            first_invoice_id=held.id if held is not None else None,
        )
        return stored

    def _catalog_prices(self, currency: Currency) -> dict[ItemKind, str]:
        keys: dict[ItemKind, str] = {kind: self.catalog.lookup_key(kind, currency) for kind in ("seat", "case", "sms")}
        found = self.stripe.find_prices(list(keys.values()))
        for key in keys.values():
            if key not in found:
                raise CatalogIncomplete(key)
        return {kind: found[key].price_id for kind, key in keys.items()}

    def _claim(self, funder_id: str) -> Funder:
        """Mark the funder as being subscribed (conditional write); a concurrent request gets a 409."""

        def claim(funder: Funder) -> Funder:
            if funder.subscription is not None and funder.subscription.is_live:
                raise SubscriptionExists(funder_id, funder.subscription.subscription_id)
            now = self._epoch()
            expires = funder.subscription_claim_expires_at
            if expires is not None and expires > now:
                raise SubscriptionInProgress(funder_id, retry_after_seconds=max(1, min(expires - now, 5)))
            return funder.model_copy(
                update={
                    "subscription_attempts": funder.subscription_attempts + 1,
                    "subscription_claim_expires_at": now + self.policy.claim_seconds,
                }
            )

        try:
            claimed = update_funder(self.funders, funder_id, claim)
        except ConcurrentUpdate:
            raise SubscriptionInProgress(funder_id, retry_after_seconds=1) from None
        if claimed is None:
            raise FunderNotFound(funder_id)
        return claimed

    def _release_claim(self, funder_id: str, attempt: int) -> None:
        """Best effort after a failure, so that a retry need not wait for the claim to expire."""

        def release(funder: Funder) -> Funder | None:
            if funder.subscription_attempts != attempt:
                return None  # a later attempt holds the claim now
            return funder.model_copy(update={"subscription_claim_expires_at": None})

        with contextlib.suppress(ConcurrentUpdate):
            update_funder(self.funders, funder_id, release)

    def _find_or_create(
        self, funder: Funder, customer_id: str, currency: str, seats: int, prices: dict[ItemKind, str]
    ) -> StripeSubscription:
        live = self.stripe.live_subscriptions(customer_id)
        ours = [subscription for subscription in live if subscription.funder_id == funder.funder_id]
        if ours:
            return ours[0]  # made by an attempt that crashed before recording it
        if live:
            # Meters count per customer: a second live subscription would bill seats, cases and SMS twice.
            raise CustomerHasSubscription(funder.funder_id, customer_id, [s.subscription_id for s in live])
        policy = self.policy
        return self.stripe.create_subscription(
            NewSubscription(
                funder_id=funder.funder_id,
                customer_id=customer_id,
                currency=currency,
                seat_price_id=prices["seat"],
                seats=seats,
                metered_price_ids=(prices["case"], prices["sms"]),
                collection_method=policy.collection_method,
                days_until_due=policy.days_until_due if policy.collection_method == "send_invoice" else None,
                proration_behavior=policy.proration_behavior,
                automatic_tax=policy.automatic_tax,
                idempotency_key=f"incytes:{funder.funder_id}:subscription:{funder.subscription_attempts}",
            )
        )

    def _hold_first_invoice(self, invoice_id: str | None) -> StripeInvoice | None:
        if invoice_id is None:
            return None
        invoice = self.stripe.get_invoice(invoice_id)
        if invoice is not None and invoice.status == "draft" and invoice.auto_advance:
            invoice = self.stripe.hold_invoice(invoice_id)
        return invoice

    # --- PUT: link a subscription Finance made in Stripe ------------------------------------------------

    def link(self, funder_id: str, subscription_id: str) -> Funder:
        funder = self._require_funder(funder_id)
        customer_id = self._require_customer(funder)
        current = funder.subscription
        if current is not None and current.is_live and current.subscription_id != subscription_id:
            raise SubscriptionExists(funder_id, current.subscription_id)
        subscription = self.stripe.get_subscription(subscription_id)
        if subscription is None:
            raise SubscriptionNotFound(subscription_id)
        if subscription.customer_id != customer_id:
            raise SubscriptionCustomerMismatch(subscription_id, subscription.customer_id, customer_id)
        if subscription.status not in LIVE_SUBSCRIPTION_STATUSES:
            raise SubscriptionCanceled(subscription_id, subscription.status)
        if subscription.funder_id not in (None, funder_id):
            raise SubscriptionLinkedElsewhere(subscription_id, subscription.funder_id)
        sms_product = self.catalog.products["sms"].product_id
        if not any(item.product_id == sms_product for item in subscription.items):
            raise SmsItemRequired(subscription_id, sms_product)
        if subscription.funder_id is None:
            self.stripe.tag_subscription(subscription_id, funder_id)  # webhooks then name the funder
        first_invoice: FirstInvoice | None = None
        if current is not None and current.subscription_id == subscription_id:
            first_invoice = current.first_invoice  # a repeated link keeps what is known
        elif subscription.latest_invoice_id is not None:
            latest = self.stripe.get_invoice(subscription.latest_invoice_id)
            if latest is not None and latest.billing_reason == FIRST_INVOICE_REASON:
                held = self._hold_first_invoice(latest.invoice_id)
                first_invoice = _first_invoice(held) if held is not None else None
        record = self._record(subscription, "linked", first_invoice, schedule_id=subscription.schedule_id)
        seat = record.item("seat")
        stored = self._store(
            funder_id,
            record,
            seats=seat.quantity if seat is not None and seat.quantity else None,
            currency=SUPPORTED_CURRENCIES.get(subscription.currency),
        )
        if current is None or current.subscription_id != subscription_id:  # a repeated link changes nothing
            self.audit.record(
                funder_id, "subscription.linked", subscription_id=subscription_id, customer_id=customer_id
            )
        return stored

    # --- PATCH: seats --------------------------------------------------------------------------------------

    def change_seats(self, funder_id: str, seats: int) -> Funder:
        funder = self._require_funder(funder_id)
        record = self._require_live(funder)
        if record.first_invoice is not None and record.first_invoice.review_status == "pending":
            # The local record may lag a Dashboard finalization: Stripe decides.
            invoice = self.stripe.get_invoice(record.first_invoice.id)
            if invoice is None or invoice.status == "draft":
                raise FirstInvoicePendingReview(record.first_invoice.id)
            # Finalized: seats may change. Approved or missed is for its webhook to say (who finalized it).
            first = record.first_invoice.model_copy(update={"status": invoice.status})
            record = record.model_copy(update={"first_invoice": first})
        seat = record.item("seat")
        if seat is None:
            raise SeatItemMissing(record.subscription_id)
        changed = seat.quantity != seats  # the same seats again changes nothing, on Stripe or in the audit trail
        if changed:
            self.stripe.set_item_quantity(seat.item_id, seats, proration_behavior=self.policy.proration_behavior)
        items = [item.model_copy(update={"quantity": seats}) if item is seat else item for item in record.items]
        stored = self._store(funder_id, record.model_copy(update={"items": items}), seats=seats)
        if changed:
            self.audit.record(
                funder_id,
                "subscription.seats_changed",
                subscription_id=record.subscription_id,
                seats=seats,
                previous_seats=seat.quantity,
                proration_behavior=self.policy.proration_behavior,
            )
        return stored

    # --- DELETE: cancel -----------------------------------------------------------------------------------

    def cancel(self, funder_id: str, when: CancelWhen) -> Funder:
        funder = self._require_funder(funder_id)
        record = self._require_live(funder)
        if when == "period_end":
            if record.cancel_at_period_end:
                return funder
            first_invoice = record.first_invoice
            subscription = self.stripe.cancel_at_period_end(record.subscription_id)
            outcome: dict[str, AuditDetail] = {}
        else:
            first_invoice = self._void_unreviewed_first_invoice(record.first_invoice)
            # Seats are credited back only for a period that was billed: a first invoice never approved billed none.
            billed = first_invoice is None or first_invoice.review_status not in ("pending", "canceled")
            subscription = self.stripe.cancel_now(record.subscription_id, prorate=billed)
            voided = first_invoice is not None and first_invoice.review_status == "canceled"
            outcome = {
                "prorated": billed,
                "voided_first_invoice_id": first_invoice.id if first_invoice and voided else None,
            }
        refreshed = self._record(subscription, record.origin, first_invoice, schedule_id=record.schedule_id)
        stored = self._store(funder_id, refreshed)
        self.audit.record(
            funder_id, "subscription.canceled", subscription_id=record.subscription_id, when=when, **outcome
        )
        return stored

    def _void_unreviewed_first_invoice(self, first: FirstInvoice | None) -> FirstInvoice | None:
        """A first invoice still awaiting review when the subscription is canceled now is voided: Finance never
        approved it, so nothing of it is owed (usage is billed by the cancellation's own final invoice).

        A subscription's draft cannot be voided (nor deleted) as such: it is finalized without collection
        (auto_advance false) and then voided. A retry after a failure between the two finds it open and held.
        """
        if first is None or first.review_status != "pending":
            return first
        invoice = self.stripe.get_invoice(first.id)
        if invoice is None:
            return first
        if invoice.status == "draft":
            invoice = self.stripe.finalize_invoice(first.id, auto_advance=False)
        if invoice.status == "open" and not invoice.auto_advance:
            invoice = self.stripe.void_invoice(first.id)
        if invoice.status == "void":
            return _first_invoice(invoice).model_copy(update={"review_status": "canceled"})
        return _first_invoice(invoice, keep=first)  # approved in the Dashboard meanwhile: billed as any other

    # --- shared ---------------------------------------------------------------------------------------------

    def _require_funder(self, funder_id: str) -> Funder:
        funder = self.funders.get(funder_id)
        if funder is None:
            raise FunderNotFound(funder_id)
        return funder

    @staticmethod
    def _require_customer(funder: Funder) -> str:
        if funder.stripe_customer_id is None:
            raise StripeCustomerMissing(funder.funder_id)
        return funder.stripe_customer_id

    @staticmethod
    def _require_live(funder: Funder) -> FunderSubscription:
        if funder.subscription is None or not funder.subscription.is_live:
            raise SubscriptionMissing(funder.funder_id)
        return funder.subscription

    def _record(
        self,
        subscription: StripeSubscription,
        origin: SubscriptionOrigin,
        first_invoice: FirstInvoice | None,
        *,
        schedule_id: str | None,
    ) -> FunderSubscription:
        start, end = billing_period(subscription.items, self._kind_of_product)
        return FunderSubscription(
            subscription_id=subscription.subscription_id,
            status=subscription.status,
            origin=origin,
            schedule_id=schedule_id,
            currency=subscription.currency,
            collection_method=subscription.collection_method,
            items=recorded_items(subscription.items, self._kind_of_product),
            current_period_start=start,
            current_period_end=end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            canceled_at=subscription.canceled_at,
            first_invoice=first_invoice,
            stripe_created=subscription.created,
        )

    def _store(
        self,
        funder_id: str,
        record: FunderSubscription,
        *,
        seats: int | None = None,
        currency: Currency | None = None,
    ) -> Funder:
        """Write the subscription onto the funder (re-read on a concurrent change) and free the claim."""
        stored = update_funder(
            self.funders,
            funder_id,
            lambda funder: funder.model_copy(
                update={
                    "subscription": record,
                    "seats": seats or funder.seats,
                    "currency": currency or (SUPPORTED_CURRENCIES.get(record.currency or "") or funder.currency),
                    "subscription_claim_expires_at": None,
                    "updated_at": self.clock(),
                }
            ),
        )
        if stored is None:
            raise FunderNotFound(funder_id)
        return stored

    def _epoch(self) -> int:
        return int(self.clock().timestamp())


def _first_invoice(invoice: StripeInvoice, *, keep: FirstInvoice | None = None) -> FirstInvoice:
    """A draft awaits review; one already finalized was missed (nobody reviewed it), unless Finance approved it."""
    review: ReviewStatus = "pending" if invoice.status == "draft" else "missed"
    if keep is not None and keep.review_status == "approved":
        review = "approved"
    return FirstInvoice(
        id=invoice.invoice_id,
        status=invoice.status,
        amount_due=invoice.amount_due,
        currency=invoice.currency,
        review_status=review,
    )
