"""Applying stored Stripe events (from the webhook) to invoices, funders and Finance's notifications.

An event is marked processed only after its effect is durable. Statuses never move backwards: a later
rank always wins, an equal rank wins only with a newer event, and a same-second disagreement is settled by
asking Stripe. An event whose customer is not linked yet is left for a later retry (RetryLater) while our own
link may still be on its way; after that (the Stripe account bills others too) it is recorded `ignored`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any

from incytes_billing.domain import finance_messages
from incytes_billing.domain.clock import Clock, utc_now
from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.domain.funder_updates import MAX_WRITE_ATTEMPTS, update_funder
from incytes_billing.domain.meter_errors import METER_ERROR_EVENTS, MeterErrorOutcome, MeterErrorSettler
from incytes_billing.domain.policy import UNLINKED_CUSTOMER_GRACE_SECONDS
from incytes_billing.domain.webhooks import with_current_object
from incytes_billing.errors import ConcurrentUpdate, RetryLater
from incytes_billing.models.catalog import CatalogConfig
from incytes_billing.models.events import PAYLOAD_OMITTED, EventStatus, FinanceNotice, StoredEvent
from incytes_billing.models.funder import Funder
from incytes_billing.models.invoice import STATUS_RANK, InvoiceLine, InvoiceRecord, ReviewStatus, billed_period
from incytes_billing.models.stripe import FIRST_INVOICE_REASON
from incytes_billing.models.stripe_events import (
    CustomerSnapshot,
    InvoiceSnapshot,
    SubscriptionSnapshot,
)
from incytes_billing.models.subscription import FirstInvoice, billing_period, recorded_items
from incytes_billing.ports import (
    FunderRepository,
    InvoiceGateway,
    InvoiceRepository,
    StripeEventStore,
)

INVOICE_EVENTS = (
    "invoice.created",
    "invoice.updated",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
)
SUBSCRIPTION_EVENTS = ("customer.subscription.updated", "customer.subscription.deleted")
CUSTOMER_EVENTS = ("customer.deleted",)
# The snapshot events applied (others are recorded and ignored): what Stripe's destinations subscribe to.
APPLIED_EVENTS = (*INVOICE_EVENTS, *SUBSCRIPTION_EVENTS, *CUSTOMER_EVENTS)


class NotAFundersEvent(Exception):
    """The event is about a customer no funder has, and no link of ours can be on its way: nothing to apply."""


@dataclass(frozen=True, slots=True)
class Processed:
    """What applying one stored event did: its status afterwards (None: no such event was stored) and, for a meter
    error report, what it settled (the handler turns that into the failed-usage metric)."""

    status: EventStatus | None
    meter_errors: MeterErrorOutcome = field(default_factory=MeterErrorOutcome)


@dataclass(frozen=True, slots=True)
class FinanceSettings:
    api_base_url: str  # where Finance can call POST /invoices/{id}/approve


@dataclass(kw_only=True, eq=False)
class EventProcessor:
    events: StripeEventStore
    funders: FunderRepository
    invoices: InvoiceRepository
    finance: FinanceNotices
    stripe: InvoiceGateway
    settings: FinanceSettings
    catalog: InitVar[CatalogConfig]
    meter_errors: MeterErrorSettler | None = None
    unlinked_customer_grace_seconds: int = UNLINKED_CUSTOMER_GRACE_SECONDS
    clock: Clock = utc_now

    def __post_init__(self, catalog: CatalogConfig) -> None:
        self._kind_of_product = catalog.kind_of_product()
        # Each handler gets the event's whole body (its data.object, and `request`: who caused it).
        self._handlers: dict[str, Callable[[StoredEvent, dict[str, Any]], None]] = {
            **dict.fromkeys(INVOICE_EVENTS, self._on_invoice),
            **dict.fromkeys(SUBSCRIPTION_EVENTS, self._on_subscription),
            **dict.fromkeys(CUSTOMER_EVENTS, self._on_customer_deleted),
        }

    def process(self, event_id: str) -> Processed:
        """Apply one stored event; answer what that did."""
        event = self.events.get(event_id)
        if event is None or event.status != "received":
            return Processed(None if event is None else event.status)
        if event.kind == "thin" and event.type in METER_ERROR_EVENTS and self.meter_errors is not None:
            meter_errors = self.meter_errors.apply_event(event.event_id)
            self.events.mark(event_id, "processed")
            return Processed("processed", meter_errors)
        handler = self._handlers.get(event.type) if event.kind == "snapshot" else None
        if handler is None:
            self.events.mark(event_id, "ignored")  # recorded, not applied
            return Processed("ignored")
        try:
            handler(event, self._body_of(event))
        except NotAFundersEvent:
            self.events.mark(event_id, "ignored")
            return Processed("ignored")
        self.events.mark(event_id, "processed")
        return Processed("processed")

    def _body_of(self, event: StoredEvent) -> dict[str, Any]:
        """The event's whole body. One too large to store whole (the webhook kept its envelope) is read again from
        Stripe by its id, its object re-fetched as a replayed event's is; while Stripe is unavailable the
        StripeUnavailable raised here makes the message come back. Past events.retrieve's 30 days the envelope is
        completed with the object alone; when neither can be had the event is retried, then dead-lettered."""
        body: dict[str, Any] = json.loads(event.payload)
        if not body.get(PAYLOAD_OMITTED):
            return body
        fetched = self.stripe.fetch_event(event.event_id)
        full = with_current_object(fetched or body, self.stripe) or fetched
        if full is None:
            raise RetryLater(f"event {event.event_id} was too large to store and Stripe no longer has it")
        return full

    # --- invoices ------------------------------------------------------------------------------------------

    def _on_invoice(self, event: StoredEvent, body: dict[str, Any]) -> None:
        invoice = InvoiceSnapshot.model_validate(body["data"]["object"])
        funder = self._funder_of(invoice.customer, event)
        record = self._record_invoice(funder, invoice, event.created, requested=_requested(body))
        if record.first_invoice:
            self._sync_first_invoice(funder.funder_id, record)
        if event.type == "invoice.created" and record.first_invoice and record.status == "draft":
            # Stripe's current state decides: the gateway holds only a draft still set to finalize itself.
            held = self.stripe.hold_invoice(invoice.id)
            if held.status == "draft":
                self.notify(
                    finance_messages.review_requested(
                        funder, record, livemode=invoice.livemode, api_base_url=self.settings.api_base_url
                    )
                )
            # else finalized before it could be held: its invoice.finalized event records it as missed
        if event.type == "invoice.finalized" and record.review_status == "approved" and not invoice.auto_advance:
            # Finalized in the Dashboard while held: approved, but Stripe would never collect it as it is.
            self.stripe.release_hold(invoice.id)
        if record.first_invoice and record.review_status == "missed" and record.status in ("open", "paid"):
            self.notify(finance_messages.review_missed(funder, record, livemode=invoice.livemode))
        if event.type == "invoice.payment_failed":
            self.notify(finance_messages.payment_failed(funder, record, event.event_id, livemode=invoice.livemode))

    def announce_first_invoice(self, funder_id: str, invoice_id: str, *, api_base_url: str | None = None) -> None:
        """Tell Finance of a first invoice the API has just made and held, without waiting for its webhook (late,
        or lost): the notice key is the webhook's, so Finance hears once whichever comes first. `api_base_url`,
        when given, is where the approve link points instead of the configured one."""
        funder = self.funders.get(funder_id)
        body = self.stripe.current_object("invoice", invoice_id)
        if funder is None or body is None:
            return
        invoice = InvoiceSnapshot.model_validate(body)
        # Recorded as of no event (0): every webhook event of the invoice is newer and wins.
        record = self._record_invoice(funder, invoice, 0, requested=False)
        if record.first_invoice and record.status == "draft":
            self.notify(
                finance_messages.review_requested(
                    funder,
                    record,
                    livemode=invoice.livemode,
                    api_base_url=api_base_url or self.settings.api_base_url,
                )
            )

    def check_held_drafts(self) -> list[str]:
        """Periodically: every first invoice awaiting review is held on Stripe (a hold that failed, or was undone,
        is made again before Stripe finalizes it); one Stripe finalized meanwhile is recorded as missed."""
        missed = []
        for record in self.invoices.with_review_status("pending"):
            current = self.stripe.hold_invoice(record.invoice_id)
            if current.status == "draft":
                continue
            funder = self.funders.get(record.funder_id)
            updated = self._review_outcome(record, current.status)
            if funder is not None and updated is not None:
                self._sync_first_invoice(funder.funder_id, updated)
                if updated.review_status == "missed":
                    self.notify(finance_messages.review_missed(funder, updated, livemode=updated.livemode))
                    missed.append(record.invoice_id)
        return missed

    def _review_outcome(self, record: InvoiceRecord, status: str) -> InvoiceRecord | None:
        """Record a pending first invoice found no longer a draft on Stripe (nobody here approved it)."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.invoices.get(record.invoice_id)
            if current is None or current.review_status != "pending" or not current.moves_forward_to(status):
                return None
            review = _review_status(True, status, current, requested=False)
            updated = current.model_copy(
                update={"status": status, "review_status": review, "version": current.version + 1}
            )
            try:
                self.invoices.save(updated, expected_version=current.version)
            except ConcurrentUpdate:
                continue
            return updated
        raise RetryLater(f"invoice {record.invoice_id} is being updated concurrently")

    def _record_invoice(
        self, funder: Funder, invoice: InvoiceSnapshot, event_created: int, *, requested: bool
    ) -> InvoiceRecord:
        lines: list[InvoiceLine] | None = None  # read once, when the record is to be written
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.invoices.get(invoice.id)
            status = self._status_to_keep(current, invoice, event_created)
            if current is not None and status == current.status and event_created <= current.state_event_created:
                return current  # an older (or the same) event: nothing to change
            first = (current is not None and current.first_invoice) or self._is_first(funder, invoice)
            if lines is None:
                lines = self._invoice_lines(invoice)
            period_start, period_end = billed_period(invoice.period_start, invoice.period_end, lines)
            record = InvoiceRecord(
                invoice_id=invoice.id,
                funder_id=funder.funder_id,
                customer_id=invoice.customer,
                subscription_id=invoice.subscription_id,
                status=status,
                amount_due=invoice.amount_due,
                currency=invoice.currency,
                billing_reason=invoice.billing_reason,
                number=invoice.number,
                hosted_invoice_url=invoice.hosted_invoice_url,
                period_start=period_start,
                period_end=period_end,
                lines=lines,
                livemode=invoice.livemode,
                first_invoice=first,
                review_status=_review_status(first, status, current, requested=requested),
                attention=link_problem(funder, invoice.subscription_id, invoice.subscription_funder_id),
                # The approve route's record of who approved it: no Stripe event carries it.
                approved_by=current.approved_by if current else None,
                approved_at=current.approved_at if current else None,
                stripe_created=invoice.created,
                state_event_created=max(event_created, current.state_event_created if current else 0),
                version=(current.version + 1) if current else 1,
            )
            try:
                self.invoices.save(record, expected_version=current.version if current else None)
            except ConcurrentUpdate:
                continue
            return record
        raise RetryLater(f"invoice {invoice.id} is being updated concurrently")

    def _invoice_lines(self, invoice: InvoiceSnapshot) -> list[InvoiceLine]:
        """Every line of the invoice: an event embeds only the first page (10 lines), so when it says there are
        more, the whole list comes from Stripe (a Finance notice never shows part of an invoice as all of it)."""
        if invoice.all_lines:
            return [InvoiceLine(**line.model_dump()) for line in invoice.lines]
        return self.stripe.invoice_lines(invoice.id)

    def _status_to_keep(self, current: InvoiceRecord | None, invoice: InvoiceSnapshot, event_created: int) -> str:
        if current is None:
            return invoice.status
        new_rank, old_rank = STATUS_RANK.get(invoice.status, -1), STATUS_RANK.get(current.status, -1)
        if new_rank != old_rank:
            return invoice.status if new_rank > old_rank else current.status
        if invoice.status != current.status and event_created == current.state_event_created:
            fresh = self.stripe.get_invoice(invoice.id)  # a same-second disagreement: Stripe decides
            return fresh.status if fresh is not None else current.status
        return invoice.status if event_created >= current.state_event_created else current.status

    @staticmethod
    def _is_first(funder: Funder, invoice: InvoiceSnapshot) -> bool:
        """The first invoice of any subscription of the funder's customer: a re-subscription's (whose record
        the API may not have written yet) and a Dashboard-made one's too, linked or not, wait for Finance."""
        first = funder.subscription.first_invoice if funder.subscription is not None else None
        return (first is not None and first.id == invoice.id) or invoice.billing_reason == FIRST_INVOICE_REASON

    def _sync_first_invoice(self, funder_id: str, record: InvoiceRecord) -> None:
        first = FirstInvoice(
            id=record.invoice_id,
            status=record.status,
            amount_due=record.amount_due,
            currency=record.currency,
            review_status=record.review_status,
        )

        def sync(funder: Funder) -> Funder | None:
            subscription = funder.subscription
            if subscription is None or subscription.subscription_id != record.subscription_id:
                return None  # the subscription's own write will record its first invoice
            if subscription.first_invoice == first:
                return None
            return funder.model_copy(update={"subscription": subscription.model_copy(update={"first_invoice": first})})

        self._update_funder(funder_id, sync)

    # --- subscriptions and customers -----------------------------------------------------------------------

    def _on_subscription(self, event: StoredEvent, body: dict[str, Any]) -> None:
        snapshot = SubscriptionSnapshot.model_validate(body["data"]["object"])

        def apply(funder: Funder) -> Funder | None:
            record = funder.subscription
            if record is None or record.subscription_id != snapshot.id:
                return None  # not the subscription this funder is billed by
            if event.created < record.state_event_created:
                return None  # older than what is recorded
            if snapshot.all_items:  # every item, classed by product: one added in the Dashboard included
                items = recorded_items(snapshot.items, self._kind_of_product)
            else:  # a cut-short list: update the items we know, keep the rest
                quantities = {item.item_id: item.quantity for item in snapshot.items}
                items = [
                    item.model_copy(update={"quantity": quantities.get(item.item_id, item.quantity)})
                    for item in record.items
                ]
            start, end = billing_period(snapshot.items, self._kind_of_product)
            updated_record = record.model_copy(
                update={
                    "status": snapshot.status,
                    "cancel_at_period_end": snapshot.cancel_at_period_end,
                    "canceled_at": snapshot.canceled_at,
                    "items": items,
                    "current_period_start": start or record.current_period_start,
                    "current_period_end": end or record.current_period_end,
                    "state_event_created": event.created,
                }
            )
            return funder.model_copy(update={"subscription": updated_record})

        funder = self._funder_of(snapshot.customer, event)
        self._update_funder(funder.funder_id, apply)
        linked = funder.subscription is not None and funder.subscription.subscription_id == snapshot.id
        if event.type == "customer.subscription.deleted" and linked:
            # After a cancellation Stripe stops collecting the subscription's finalized invoices: Finance must.
            unpaid = self.stripe.unpaid_invoices(snapshot.id)
            self.notify(finance_messages.subscription_canceled(funder, snapshot.id, unpaid, livemode=snapshot.livemode))

    def _on_customer_deleted(self, event: StoredEvent, body: dict[str, Any]) -> None:
        customer = CustomerSnapshot.model_validate(body["data"]["object"])
        funder = self.funders.find_by_customer(customer.id)
        if funder is None:
            return  # nothing of ours to update: a deleted customer is never linked later
        self._update_funder(
            funder.funder_id,
            lambda f: None if f.stripe_customer_deleted else f.model_copy(update={"stripe_customer_deleted": True}),
        )

    def _update_funder(self, funder_id: str, change: Callable[[Funder], Funder | None]) -> None:
        try:
            update_funder(self.funders, funder_id, change)
        except ConcurrentUpdate as error:
            raise RetryLater(f"funder {funder_id} is being updated concurrently") from error

    def _funder_of(self, customer_id: str, event: StoredEvent) -> Funder:
        funder = self.funders.find_by_customer(customer_id)
        if funder is not None:
            return funder
        if int(self.clock().timestamp()) - event.created > self.unlinked_customer_grace_seconds:
            raise NotAFundersEvent(f"{event.type} {event.event_id}: customer {customer_id} is no funder's")
        # The webhook can beat our own write: keep the event and try again later.
        raise RetryLater(f"{event.type} {event.event_id}: no funder is linked to customer {customer_id} yet")

    # --- Finance --------------------------------------------------------------------------------------------

    def notify(self, notice: FinanceNotice) -> None:
        """Publish a notice to Finance once per key (domain.finance)."""
        self.finance.notify(notice)

    def remind_pending_reviews(self, *, older_than_days: int) -> list[str]:
        """Tell Finance again about first-invoice drafts still waiting (at most once a day per invoice)."""
        now = self.clock()
        cutoff = int(now.timestamp()) - older_than_days * 86400
        reminded = []
        for invoice in self.invoices.with_review_status("pending"):
            if invoice.stripe_created > cutoff:
                continue
            funder = self.funders.get(invoice.funder_id)
            if funder is None:
                continue
            self.notify(
                finance_messages.review_reminder(funder, invoice, api_base_url=self.settings.api_base_url, now=now)
            )
            reminded.append(invoice.invoice_id)
        return reminded


def _review_status(first: bool, status: str, current: InvoiceRecord | None, *, requested: bool) -> ReviewStatus:
    """Finance's review of a first invoice, from its Stripe status and who moved it there.

    Finalized by a request (the approve route, or Finalize in the Dashboard) is Finance's approval; finalized by
    Stripe itself (no request: its automatic finalization) is `missed`. Voided unreviewed is `canceled`.
    A review never goes back: approved stays approved, and only an approval replaces missed.
    """
    if not first:
        return "not_required"
    before = current.review_status if current is not None else "pending"
    if before == "approved" or (before in ("missed", "canceled") and not requested):
        return before
    if status == "draft":
        return "pending"
    if status in ("open", "paid"):
        return "approved" if requested else "missed"
    return "canceled" if before == "pending" else before


def _requested(body: dict[str, Any]) -> bool:
    """Whether an API request (ours, or the Dashboard's) caused the event: automatic changes carry no request id."""
    request = body.get("request")
    return isinstance(request, dict) and bool(request.get("id"))


def link_problem(funder: Funder, subscription_id: str | None, tagged_funder_id: str | None) -> str | None:
    """Why an invoice of this funder's customer must not be approved as it is: its subscription is not the one
    the funder is billed by (a manual subscription whose link was refused, or never asked for)."""
    if subscription_id is None:
        return None  # a one-off invoice
    linked = funder.subscription.subscription_id if funder.subscription is not None else None
    if subscription_id == linked or tagged_funder_id == funder.funder_id:
        return None
    return (
        f"subscription {subscription_id} is not linked to funder {funder.funder_id}"
        + (f" (which is billed by {linked})" if linked else "")
        + f". Link it (PUT /funders/{funder.funder_id}/subscription: it must include the SMS item) or cancel it "
        "in Stripe; its usage would otherwise not be reported, or be billed twice."
    )
