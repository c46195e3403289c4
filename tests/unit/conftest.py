"""Fixtures of the unit suites: in-memory ports (tests/fakes.py) and a subscribed funder."""

from __future__ import annotations

import pytest

from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.models.catalog import load_catalog
from tests.fakes import (
    NOW,
    Clock,
    MemoryBatches,
    MemoryFunders,
    MemoryMeters,
    MemoryUsage,
    new_funder,
    subscribed_funder,
)


@pytest.fixture
def funders() -> MemoryFunders:
    """f1: linked to cus_1 and billed by sub_1; waiting: linked to cus_2, no subscription; bare: not linked."""
    return MemoryFunders(subscribed_funder("f1", "cus_1"), new_funder("waiting", "cus_2"), new_funder("bare"))


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
