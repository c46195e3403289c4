"""The hourly reconciler at scale (issue 15, docs/capacity.md): it compares every funder's meters with Stripe,
sequentially, inside one 300 s run; at a few thousand funders the run reaches its deadline first, and the Stripe
gateway then refuses to start a call (StripeUnavailable). Undelivered Stripe events are replayed first, the run
stops at the deadline saying how many funders it left, and the next hours start elsewhere in the list, so that
every funder is reached daily (in-memory ports).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from incytes_billing.domain.batch_checks import BatchCheckReport
from incytes_billing.domain.reconciliation import Reconciler, run_order
from incytes_billing.domain.webhooks import WebhookIngress
from incytes_billing.errors import StripeUnavailable
from incytes_billing.models.catalog import load_catalog
from tests.fakes import MemoryEventStore, MemoryQueue, MemoryUndelivered
from tests.unit.test_reconciler_replay_refetch import event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class DeadlineAfter:
    """A batch checker whose Stripe calls hit the invocation's deadline after `funders` funders."""

    def __init__(self, funders: int) -> None:
        self.left = funders
        self.checked: list[str] = []

    def check_funder(self, funder_id: str, report: BatchCheckReport) -> None:
        if self.left == 0:
            raise StripeUnavailable("no time left in this invocation for another Stripe request")
        self.left -= 1
        self.checked.append(funder_id)


class NoFunders:
    def get(self, funder_id: str) -> None:
        return None  # nothing to compare: the checker is what runs out of time


def test_a_run_out_of_time_comparing_funders_still_replays_undelivered_events() -> None:
    undelivered = MemoryUndelivered([event("evt_missed", {"object": "customer", "id": "cus_1"})], current={})
    events = MemoryEventStore()
    checker = DeadlineAfter(funders=2)
    reconciler = Reconciler(
        batches=cast(Any, None),
        checker=cast(Any, checker),
        funders=cast(Any, NoFunders()),
        meters=cast(Any, None),
        undelivered=undelivered,
        ingress=WebhookIngress(events, MemoryQueue(), clock=lambda: NOW),
        finance=cast(Any, None),
        catalog=load_catalog(),
        clock=lambda: NOW,
    )

    report = reconciler.run([f"funder-{number}" for number in range(5)])

    assert checker.checked == ["funder-2", "funder-3"]  # at noon, from the list's 12th 24th on
    assert report.not_compared == 3
    assert "evt_missed" in events.events  # the missed webhook reached the pipeline this hour


@pytest.mark.parametrize(("hour", "first"), [(0, "f00"), (1, "f02"), (12, "f24"), (23, "f46"), (24, "f00")])
def test_each_hour_starts_elsewhere_in_the_list_and_every_funder_comes_first_once_a_day(hour: int, first: str) -> None:
    funder_ids = [f"f{number:02d}" for number in range(48)]
    rotated = run_order(funder_ids, hour)
    assert rotated[0] == first
    assert sorted(rotated) == funder_ids
