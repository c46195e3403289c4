"""The Stripe resources the emulator models: one module per resource, each with its ``routes``.

To add a resource: give it a :class:`~stripe_emulator.store.Kind` in :mod:`.kinds`, write a module with
a ``routes = RouteTable()`` and its endpoints, and list the module here.
"""

from __future__ import annotations

from ..routing import Route
from . import billing_meters, customers, invoiceitems, prices, products
from .kinds import KINDS

MODULES = (customers, products, prices, billing_meters, invoiceitems)

ROUTES: tuple[Route, ...] = tuple(route for module in MODULES for route in module.routes)

__all__ = ["KINDS", "ROUTES"]
