"""Fixtures of the unit suites: in-memory ports (tests/unit/usage_memory.py) and a subscribed funder."""

from __future__ import annotations

import pytest

from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.funder import Funder
from incytes_billing.models.subscription import FunderSubscription, SubscriptionItem
from tests.unit.test_funder_service import MemoryFunders
from tests.unit.usage_memory import (
    NOW,
    PERIOD_START,
    SUBSCRIBED_AT,
    Clock,
    MemoryBatches,
    MemoryMeters,
    MemoryUsage,
)


@pytest.fixture
def funders() -> MemoryFunders:
    memory = MemoryFunders()
    items = [
        SubscriptionItem(
            kind=kind, item_id=f"si_{kind}", price_id=f"price_{kind}", product_id=f"incytes_{kind}", quantity=None
        )
        for kind in ("seat", "case", "sms")
    ]
    subscription = FunderSubscription(
        subscription_id="sub_1",
        status="active",
        items=items,
        current_period_start=PERIOD_START,
        current_period_end=PERIOD_START + 30 * 86400,
        stripe_created=SUBSCRIBED_AT,
    )
    for funder_id, customer, sub in (("f1", "cus_1", subscription), ("waiting", "cus_2", None), ("bare", None, None)):
        memory.items[funder_id] = Funder(
            funder_id=funder_id,
            name=funder_id,
            stripe_customer_id=customer,
            currency="usd",
            seats=1,
            subscription=sub,
            created_at=NOW,
            updated_at=NOW,
        )
    return memory


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def usage() -> MemoryUsage:
    return MemoryUsage()


@pytest.fixture
def batches() -> MemoryBatches:
    return MemoryBatches()


@pytest.fixture
def meters() -> MemoryMeters:
    return MemoryMeters()


@pytest.fixture
def reporter(usage: MemoryUsage, batches: MemoryBatches, funders: MemoryFunders, meters: MemoryMeters) -> UsageReporter:
    return UsageReporter(usage, batches, funders, meters, load_catalog(), clock=lambda: NOW)


@pytest.fixture
def streamer(usage: MemoryUsage, batches: MemoryBatches, funders: MemoryFunders, meters: MemoryMeters) -> UsageReporter:
    return UsageReporter(usage, batches, funders, meters, load_catalog(), mode="stream", clock=lambda: NOW)
