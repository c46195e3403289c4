"""The EventProcessor assembled from the in-memory ports (tests/fakes.py), and events delivered to it as the
webhook stores them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from incytes_billing.domain.event_processor import EventProcessor, FinanceSettings
from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.events import EventStatus, VerifiedEvent
from tests.fakes import NOW, MemoryEventStore, MemoryFinance, MemoryFunders, MemoryInvoiceGateway, MemoryInvoices
from tests.stripe_fixtures import event

NOW_EPOCH = int(NOW.timestamp())
API_BASE_URL = "https://billing.example"


class Harness:
    def __init__(self, funders: MemoryFunders, stripe: MemoryInvoiceGateway | None = None, **options: Any) -> None:
        self.funders = funders
        self.events = MemoryEventStore()
        self.invoices = MemoryInvoices()
        self.finance = MemoryFinance()
        self.stripe = stripe or MemoryInvoiceGateway()
        self.processor = EventProcessor(
            events=self.events,
            funders=funders,
            invoices=self.invoices,
            finance=FinanceNotices(self.finance, self.finance, clock=lambda: NOW),
            stripe=self.stripe,
            settings=FinanceSettings(api_base_url=API_BASE_URL),
            catalog=load_catalog(),
            clock=lambda: NOW,
            **options,
        )
        self._count = 0

    def deliver(
        self,
        event_type: str,
        data_object: dict[str, Any],
        *,
        age: timedelta = timedelta(0),
        request_id: str | None = None,
    ) -> str:
        """Store the event as the webhook would; `request_id`: the API request that caused it (none: Stripe's own
        automatic change)."""
        self._count += 1
        event_id = f"evt_{self._count}"
        body = event(event_id, event_type, data_object, created=NOW_EPOCH - int(age.total_seconds()))
        if request_id is not None:
            body["request"] = {"id": request_id, "idempotency_key": None}
        verified = VerifiedEvent(event_id, event_type, body["created"], "snapshot", False, body["api_version"], "")
        self.events.insert(replace(verified, payload=json.dumps(body)), received_at=NOW_EPOCH)
        return event_id

    def process(self, event_id: str) -> EventStatus | None:
        return self.processor.process(event_id).status

    def apply(self, event_type: str, data_object: dict[str, Any], **delivery: Any) -> EventStatus | None:
        """Deliver, then process."""
        return self.process(self.deliver(event_type, data_object, **delivery))
