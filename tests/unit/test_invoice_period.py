"""The period an invoice record (and Finance's review request) shows: Stripe's invoice period bounds when invoice
items could be added to it; "use the line item period to get the service period for each price"
(https://docs.stripe.com/api/invoices/object). A subscription's first invoice has `period_start == period_end`
(its creation), while its lines bill the subscription items' first period: that period is the one shown.
A renewal's own period (the period that ended, whose usage it bills) is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incytes_billing.models.invoice import InvoiceLine, billed_period
from incytes_billing.models.stripe_events import InvoiceSnapshot
from tests.fakes import MemoryFunders
from tests.stripe_fixtures import invoice_object
from tests.unit.event_harness import Harness

CREATED = int(datetime(2026, 12, 2, 10, 0, tzinfo=UTC).timestamp())
MONTH_LATER = int(datetime(2027, 1, 2, 10, 0, tzinfo=UTC).timestamp())


def line(start: int | None, end: int | None, amount: int = 10500) -> InvoiceLine:
    return InvoiceLine(description="3 × Seat", amount=amount, quantity=3, period_start=start, period_end=end)


def test_a_first_invoice_shows_the_period_its_lines_bill() -> None:
    lines = [line(CREATED, MONTH_LATER), line(CREATED, MONTH_LATER, amount=0)]  # seats, and a metered item
    assert billed_period(CREATED, CREATED, lines) == (CREATED, MONTH_LATER)


def test_a_renewal_keeps_stripes_period() -> None:
    before = CREATED - 31 * 86400
    lines = [line(CREATED, MONTH_LATER), line(before, CREATED, amount=500)]  # seats ahead, usage behind
    assert billed_period(before, CREATED, lines) == (before, CREATED)


@pytest.mark.parametrize(
    "lines",
    [
        [],  # no line
        [line(None, None)],  # stored before lines kept their period
        [line(CREATED, CREATED)],  # a one-off invoice item: its line is one moment too
    ],
)
def test_without_a_line_period_spanning_time_stripes_moment_is_kept(lines: list[InvoiceLine]) -> None:
    assert billed_period(CREATED, CREATED, lines) == (CREATED, CREATED)


def test_a_line_period_is_read_from_the_event_payload() -> None:
    payload = invoice_object("in_1", "cus_1", subscription_id="sub_1")
    payload["lines"]["data"][0]["period"] = {"start": CREATED, "end": MONTH_LATER}

    (parsed,) = InvoiceSnapshot.model_validate(payload).lines

    assert (parsed.period_start, parsed.period_end) == (CREATED, MONTH_LATER)


def first_invoice_of_sub_1(**changes: Any) -> dict[str, Any]:
    """sub_1's first invoice as Stripe sends it: period_start == period_end, its one line billing a month."""
    invoice = invoice_object(
        "in_first",
        "cus_1",
        subscription_id="sub_1",
        billing_reason="subscription_create",
        auto_advance=True,
        created=CREATED,
        period_start=CREATED,
        period_end=CREATED,
        **changes,
    )
    invoice["lines"]["data"][0]["period"] = {"start": CREATED, "end": MONTH_LATER}
    return invoice


def test_finance_is_asked_to_review_the_period_the_seats_cover(funders: MemoryFunders) -> None:
    harness = Harness(funders)
    draft = first_invoice_of_sub_1()
    harness.stripe.add(draft)

    assert harness.process(harness.deliver("invoice.created", draft)) == "processed"

    record = harness.invoices.get("in_first")
    assert record is not None
    assert (record.period_start, record.period_end) == (CREATED, MONTH_LATER)
    assert [(item.period_start, item.period_end) for item in record.lines] == [(CREATED, MONTH_LATER)]
    (notice,) = harness.finance.published
    assert "Period: 2026-12-02 to 2027-01-02" in notice.text
    assert notice.data["invoice"]["period_end"] == MONTH_LATER  # type: ignore[index]
