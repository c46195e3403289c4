"""UsageLedger (domain/usage.py): usage is recorded once, only for known funders and within what Stripe bills (a
meter event's timestamp "must be within the past 35 calendar days or up to 5 minutes in the future",
https://docs.stripe.com/api/v2/billing-meter/object); a batch answers per record; totals add up by kind and status.
In-memory ports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incytes_billing.domain.usage import UsageLedger
from incytes_billing.errors import FunderNotFound, UsageConflict, UsageOutOfWindow
from incytes_billing.models.usage import UsageInput, utc_text
from tests.fakes import NOW, MemoryFunders, MemoryUsage


@pytest.fixture
def ledger(usage: MemoryUsage, funders: MemoryFunders) -> UsageLedger:
    """Funders f1, waiting and bare (tests/unit/conftest.py)."""
    return UsageLedger(usage, funders, clock=lambda: NOW)


def case(usage_id: str, *, quantity: int = 1, occurred: timedelta = timedelta(0), kind: str = "case") -> UsageInput:
    """A record that occurred `occurred` after NOW (negative: before)."""
    return UsageInput.model_validate(
        {"usage_id": usage_id, "kind": kind, "quantity": quantity, "occurred_at": (NOW + occurred).isoformat()}
    )


def test_a_record_is_stored_pending_once_and_an_identical_replay_is_a_duplicate(
    ledger: UsageLedger, usage: MemoryUsage
) -> None:
    assert ledger.record("f1", case("u1", quantity=3, occurred=-timedelta(hours=1))) == "accepted"
    assert ledger.record("f1", case("u1", quantity=3, occurred=-timedelta(hours=1))) == "duplicate"

    stored = usage.get("f1", "u1")
    assert stored is not None
    assert (stored.kind, stored.quantity, stored.status) == ("case", 3, "pending")
    assert (stored.occurred_at, stored.recorded_at) == (utc_text(NOW - timedelta(hours=1)), utc_text(NOW))
    assert len(usage.records) == 1


def test_the_same_usage_id_with_another_payload_is_a_conflict_and_keeps_the_first(
    ledger: UsageLedger, usage: MemoryUsage
) -> None:
    ledger.record("f1", case("u1", quantity=3))
    with pytest.raises(UsageConflict):
        ledger.record("f1", case("u1", quantity=4))
    stored = usage.get("f1", "u1")
    assert stored is not None
    assert stored.quantity == 3


def test_usage_ids_are_per_funder(ledger: UsageLedger, usage: MemoryUsage) -> None:
    assert ledger.record("f1", case("u1")) == ledger.record("waiting", case("u1", quantity=2)) == "accepted"
    assert sorted(usage.records) == [("f1", "u1"), ("waiting", "u1")]


@pytest.mark.parametrize(
    ("occurred", "accepted"),
    [
        (-timedelta(days=35), True),
        (-timedelta(days=35, seconds=1), False),
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
    ],
)
def test_only_usage_stripe_still_bills_is_accepted(
    ledger: UsageLedger, usage: MemoryUsage, occurred: timedelta, accepted: bool
) -> None:
    if accepted:
        assert ledger.record("f1", case("u1", occurred=occurred)) == "accepted"
    else:
        with pytest.raises(UsageOutOfWindow):
            ledger.record("f1", case("u1", occurred=occurred))
        assert usage.records == {}


def test_usage_of_an_unknown_funder_is_refused_and_not_stored(ledger: UsageLedger, usage: MemoryUsage) -> None:
    with pytest.raises(FunderNotFound):
        ledger.record("nobody", case("u1"))
    assert usage.records == {}


def batch_record(funder_id: str, usage_id: str, **fields: Any) -> dict[str, Any]:
    record = {"funder_id": funder_id, "usage_id": usage_id, "kind": "sms", "quantity": 1}
    return {**record, "occurred_at": NOW.isoformat(), **fields}


def test_a_batch_answers_every_record_in_order_and_one_bad_record_sinks_no_other(
    ledger: UsageLedger, usage: MemoryUsage
) -> None:
    ledger.record("f1", case("old"))
    results = ledger.record_batch(
        [
            batch_record("f1", "a"),
            batch_record("f1", "a"),  # repeated within the batch
            batch_record("f1", "b", quantity=0),
            batch_record("nobody", "c"),
            batch_record("f1", "old", kind="case", quantity=2),  # conflicts with the stored one
            batch_record("waiting", "d", occurred_at=(NOW - timedelta(days=36)).isoformat()),
            "not a record",
            batch_record("waiting", "e"),
        ]
    )

    assert [(r["index"], r["funder_id"], r["usage_id"], r["status"]) for r in results] == [
        (0, "f1", "a", "accepted"),
        (1, "f1", "a", "duplicate"),
        (2, "f1", "b", "rejected"),
        (3, "nobody", "c", "rejected"),
        (4, "f1", "old", "rejected"),
        (5, "waiting", "d", "rejected"),
        (6, None, None, "rejected"),
        (7, "waiting", "e", "accepted"),
    ]
    codes = [r["error"]["code"] for r in results if r["status"] == "rejected"]
    assert codes == [
        "validation_error",
        "funder_not_found",
        "usage_conflict",
        "usage_out_of_window",
        "validation_error",
    ]
    assert "quantity" in results[2]["error"]["message"]
    assert sorted(usage.records) == [("f1", "a"), ("f1", "old"), ("waiting", "e")]


def test_totals_add_quantities_by_kind_and_status_within_the_range(ledger: UsageLedger, usage: MemoryUsage) -> None:
    usage.add("f1", "c1", "case", 2, NOW - timedelta(days=2))
    usage.add("f1", "c2", "case", 3, NOW - timedelta(hours=1))
    usage.add("f1", "s1", "sms", 5, NOW - timedelta(hours=1))
    usage.add("waiting", "other", "case", 7, NOW - timedelta(hours=1))  # another funder's
    c2 = usage.get("f1", "c2")
    assert c2 is not None
    usage.settle(c2, "reported", batch_id="b1")

    everything = ledger.totals("f1", None, None)
    assert everything["totals"]["case"] == {"recorded": 5, "pending": 2, "reported": 3, "failed": 0, "unbillable": 0}
    assert everything["totals"]["sms"]["recorded"] == everything["totals"]["sms"]["pending"] == 5
    assert (everything["from"], everything["to"]) == (None, None)

    last_day = ledger.totals("f1", NOW - timedelta(days=1), NOW)
    assert last_day["totals"]["case"]["recorded"] == 3  # c1 is before the range
    assert last_day["from"] == (NOW - timedelta(days=1)).isoformat()


def test_totals_of_an_unknown_funder_are_refused(ledger: UsageLedger) -> None:
    with pytest.raises(FunderNotFound):
        ledger.totals("nobody", None, None)
