"""The Stripe resources the emulator models: one module per resource, each with its ``routes``.

To add a resource: give it a :class:`~stripe_emulator.store.Kind` in :mod:`.kinds`, write a module with
a ``routes = RouteTable()`` and its endpoints, and list the module here. A resource that must act on another
one that imports it (a deleted customer's subscriptions canceled, say) exposes a hook list; the hooks are wired
here, in :func:`connect_hooks`, which the app calls when it is built.

``CLOCK_RULES`` are the transitions time makes by itself: queued meter events processed (counted, or
reported in error reports), subscription schedules completed at the end of their last phase,
subscriptions renewed at their items' period end, canceled at ``cancel_at``,
auto-advancing drafts finalized an hour after their creation, invoice payments attempted (and retried) at
``next_payment_attempt``, subscriptions made ``past_due`` by a ``send_invoice`` invoice unpaid at its due
date, ``incomplete`` subscriptions expired 23 hours after their creation, and the partner event sources of
EventBridge event destinations deleted when still unassociated 7 days after creation. Each is a
:class:`~..routing.ClockRule`; whenever the clock moves and before every API request the app steps through the
due times in order and applies every rule at each (see ``EmulatorApp.tick``).
"""

from __future__ import annotations

from ..routing import ClockRule, Route
from . import (
    billing_meters,
    customers,
    event_destinations,
    events,
    invoice_creation,
    invoice_lines,
    invoiceitems,
    invoices,
    meter_event_summaries,
    meter_events,
    payments,
    prices,
    products,
    subscription_items,
    subscription_schedules,
    thin_events,
    webhook_endpoints,
)
from .kinds import KINDS
from .subscriptions import ending as subscription_ending
from .subscriptions import endpoints as subscription_endpoints
from .subscriptions import renewals as subscription_renewals

MODULES = (
    customers,
    products,
    prices,
    billing_meters,
    meter_events,
    meter_event_summaries,
    invoiceitems,
    invoices,
    invoice_creation,
    invoice_lines,
    payments,
    subscription_endpoints,
    subscription_items,
    subscription_schedules,
    events,
    thin_events,
    webhook_endpoints,
    event_destinations,
)

ROUTES: tuple[Route, ...] = tuple(route for module in MODULES for route in module.routes)

# At one moment: usage first (so a renewal bills it), then schedules whose last phase ends (so a released
# subscription renews and a canceled one does not), renewals (before a cancellation at the same period
# end, which they leave alone), cancellations, finalizations, then what finalized invoices owe:
# payment attempts (a draft finalized now is attempted now), due dates passed, first invoices never paid.
CLOCK_RULES: tuple[ClockRule, ...] = (
    ClockRule("process meter events", meter_events.next_due, meter_events.process_due),
    ClockRule("end subscription schedules", subscription_schedules.end_next_due, subscription_schedules.end_due),
    ClockRule("renew subscriptions", subscription_renewals.renew_next_due, subscription_renewals.renew_due),
    ClockRule("cancel subscriptions", subscription_ending.cancel_next_due, subscription_ending.cancel_due),
    ClockRule("finalize invoices", invoices.finalize_next_due, invoices.finalize_due),
    ClockRule("collect invoice payments", payments.collect_next_due, payments.collect_due),
    ClockRule("mark unpaid send_invoice subscriptions past due", payments.past_due_next_due, payments.past_due_due),
    ClockRule("expire incomplete subscriptions", payments.expire_next_due, payments.expire_due),
    ClockRule(
        "delete unassociated EventBridge sources", event_destinations.expire_next_due, event_destinations.expire_due
    ),
)


def connect_hooks() -> None:
    """Wire the hooks through which a resource acts on one that must not import it (it imports the other).

    The one place they are registered; ``EmulatorApp`` calls it. Each list is set outright, so calling it again,
    or having imported the modules in any order, leaves the same hooks in the same order.
    """
    # A deleted customer's drafts stop auto-advancing first, then its subscriptions are canceled.
    customers.ON_DELETE[:] = [
        invoices.hold_drafts_of_deleted_customer,
        subscription_ending.cancel_for_deleted_customer,
    ]
    payments.CANCEL_FOR_NONPAYMENT[:] = [subscription_ending.cancel_for_nonpayment]
    invoices.BEFORE_FINALIZE[:] = [subscription_ending.refresh_usage_lines]
    invoices.ON_COLLECTION_CHANGE[:] = [payments.schedule_collection]
    webhook_endpoints.DELIVERIES_ENDED[:] = [invoices.note_webhooks_delivered]


__all__ = ["CLOCK_RULES", "KINDS", "ROUTES", "ClockRule", "connect_hooks"]
