"""The Stripe resources the emulator models: one module per resource, each with its ``routes``.

To add a resource: give it a :class:`~stripe_emulator.store.Kind` in :mod:`.kinds`, write a module with
a ``routes = RouteTable()`` and its endpoints, and list the module here.

``CLOCK_RULES`` are the transitions time makes by itself (an auto-advancing draft invoice finalized an
hour after its creation, a subscription canceled at ``cancel_at``): each rule applies, in due order and
at the time each was due, what has come due by ``now``. The emulator runs them whenever its clock moves
and before every API request. Subscription renewals will be one more rule.
"""

from __future__ import annotations

from collections.abc import Callable

from ..routing import Route
from ..store import Store
from . import (
    billing_meters,
    customers,
    events,
    invoiceitems,
    invoices,
    prices,
    products,
    subscription_items,
    subscription_schedules,
    subscriptions,
    webhook_endpoints,
)
from .kinds import KINDS

MODULES = (
    customers,
    products,
    prices,
    billing_meters,
    invoiceitems,
    invoices,
    subscriptions,
    subscription_items,
    subscription_schedules,
    events,
    webhook_endpoints,
)

ROUTES: tuple[Route, ...] = tuple(route for module in MODULES for route in module.routes)

ClockRule = Callable[[Store, int], None]
CLOCK_RULES: tuple[ClockRule, ...] = (invoices.finalize_due, subscriptions.cancel_due)

__all__ = ["CLOCK_RULES", "KINDS", "ROUTES", "ClockRule"]
