"""The hooks between resources are wired in one place, when the app is built, never at import (emulator only)."""

from __future__ import annotations

import os
import subprocess
import sys

from stripe_emulator.app import EmulatorApp
from stripe_emulator.resources import customers, invoices, payments, webhook_endpoints
from stripe_emulator.resources.subscriptions import ending

# Imports every resource module in an order unlike the package's, then prints how many hooks each list holds.
IMPORT_IN_ANOTHER_ORDER = """
import stripe_emulator.resources.subscriptions.ending
import stripe_emulator.resources.webhook_endpoints as webhook_endpoints
import stripe_emulator.resources.payments as payments
import stripe_emulator.resources.invoices as invoices
import stripe_emulator.resources.customers as customers
import stripe_emulator.resources
print([len(hooks) for hooks in (customers.ON_DELETE, payments.CANCEL_FOR_NONPAYMENT, invoices.BEFORE_FINALIZE,
                                invoices.ON_COLLECTION_CHANGE, webhook_endpoints.DELIVERIES_ENDED)])
"""


def test_building_the_app_wires_each_hook_once_in_order() -> None:
    """Deleting a customer "also immediately cancels any active subscriptions on the customer"
    (https://docs.stripe.com/api/customers/delete); its drafts stop auto-advancing first. However often the app
    is built, each hook list holds its hooks once, in that order."""
    EmulatorApp()
    EmulatorApp()
    wired = {
        "customers.ON_DELETE": customers.ON_DELETE,
        "payments.CANCEL_FOR_NONPAYMENT": payments.CANCEL_FOR_NONPAYMENT,
        "invoices.BEFORE_FINALIZE": invoices.BEFORE_FINALIZE,
        "invoices.ON_COLLECTION_CHANGE": invoices.ON_COLLECTION_CHANGE,
        "webhook_endpoints.DELIVERIES_ENDED": webhook_endpoints.DELIVERIES_ENDED,
    }
    assert wired == {
        "customers.ON_DELETE": [invoices.hold_drafts_of_deleted_customer, ending.cancel_for_deleted_customer],
        "payments.CANCEL_FOR_NONPAYMENT": [ending.cancel_for_nonpayment],
        "invoices.BEFORE_FINALIZE": [ending.refresh_usage_lines],
        "invoices.ON_COLLECTION_CHANGE": [payments.schedule_collection],
        "webhook_endpoints.DELIVERIES_ENDED": [invoices.note_webhooks_delivered],
    }


def test_importing_the_resources_registers_no_hook() -> None:
    """Importing the resource modules, in any order, leaves every hook list empty until the app is built."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_IN_ANOTHER_ORDER], capture_output=True, text=True, env=environment, check=True
    )
    assert result.stdout.strip() == "[0, 0, 0, 0, 0]"
