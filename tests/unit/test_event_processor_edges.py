"""EventProcessor at the edges (issue 9 §6), with in-memory ports: events about customers no funder has, one-off
invoices, payloads with every field stripe-python's typed classes declare, and invoices with more lines than an
event embeds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from incytes_billing.errors import RetryLater
from incytes_billing.models.invoice import InvoiceLine
from tests.fakes import MemoryFunders
from tests.stripe_fixtures import customer_object, invoice_object, subscription_object
from tests.unit.event_harness import Harness


@pytest.fixture
def harness(funders: MemoryFunders) -> Harness:
    """Funder f1 linked to cus_1 with subscription sub_1 (tests/unit/conftest.py)."""
    return Harness(funders)


# --- customers no funder has ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "data_object"),
    [
        ("invoice.created", invoice_object("in_Other", "cus_Other", subscription_id="sub_Other")),
        ("invoice.paid", invoice_object("in_OtherOneOff", "cus_Other", subscription_id=None, status="paid")),
        ("customer.subscription.updated", subscription_object("sub_Other", "cus_Other", [("si_x", "price_x", "p")])),
    ],
)
def test_an_event_about_a_customer_no_funder_has_is_ignored_once_no_link_can_be_on_its_way(
    harness: Harness, event_type: str, data_object: dict[str, Any]
) -> None:
    """The account bills customers that are no funder's (docs/business-rules.md § Failure rules: recorded
    `ignored`, not retried into the dead-letter queue); once the event is older than the grace for our own link,
    it is recorded `ignored`."""
    event_id = harness.deliver(event_type, data_object, age=timedelta(minutes=6))

    assert harness.process(event_id) == "ignored"
    assert harness.events.events[event_id].status == "ignored"
    assert harness.invoices.items == {}
    assert harness.finance.published == []


def test_a_recent_event_about_an_unlinked_customer_is_retried_the_link_may_be_on_its_way(
    harness: Harness, funders: MemoryFunders
) -> None:
    """The webhook can beat our own write of the link: within the grace the event stays `received` for a retry."""
    invoice = invoice_object("in_Soon", "cus_New", subscription_id="sub_Soon", billing_reason="manual")
    event_id = harness.deliver("invoice.created", invoice, age=timedelta(minutes=4))

    with pytest.raises(RetryLater):
        harness.process(event_id)
    assert harness.events.events[event_id].status == "received"

    funders.items["bare"] = funders.items["bare"].model_copy(update={"stripe_customer_id": "cus_New"})  # linked
    assert harness.process(event_id) == "processed"
    record = harness.invoices.get("in_Soon")
    assert record is not None
    assert record.funder_id == "bare"


def test_the_grace_is_a_setting(funders: MemoryFunders) -> None:
    harness = Harness(funders, unlinked_customer_grace_seconds=30)
    invoice = invoice_object("in_Other", "cus_Other", subscription_id=None)
    assert harness.process(harness.deliver("invoice.created", invoice, age=timedelta(minutes=1))) == "ignored"


# --- one-off invoices ---------------------------------------------------------------------------------------


def test_every_event_of_a_one_off_invoice_is_applied(harness: Harness) -> None:
    """An invoice made in the Dashboard for a funder's customer has no subscription (`parent` null): its record is
    written without subscription_id and must read back, or every later event of it fails into the DLQ."""
    draft = invoice_object("in_OneOff", "cus_1", subscription_id=None, status="draft", billing_reason="manual")
    assert harness.process(harness.deliver("invoice.created", draft)) == "processed"
    assert "subscription_id" not in harness.invoices.items["in_OneOff"]  # as DynamoDB keeps it

    opened = invoice_object("in_OneOff", "cus_1", subscription_id=None, status="open", number="7FE1103-0001")
    assert harness.process(harness.deliver("invoice.finalized", opened, age=timedelta(seconds=-1))) == "processed"

    record = harness.invoices.get("in_OneOff")
    assert record is not None
    assert (record.subscription_id, record.status, record.number) == (None, "open", "7FE1103-0001")
    assert (record.first_invoice, record.review_status) == (False, "not_required")
    assert harness.finance.published == []


# --- payloads with every field the SDK declares ----------------------------------------------------------------


def test_a_subscription_invoice_with_every_sdk_field_is_recorded(harness: Harness) -> None:
    """Every field stripe-python's Invoice declares (payment_settings, shipping_cost, last_finalization_error, …), and
    `auto_advance` null: nullable in the API (stripe/_invoice.py: `auto_advance: Optional[bool]`,
    https://docs.stripe.com/api/invoices/object)."""
    invoice = invoice_object(
        "in_Renewal", "cus_1", subscription_id="sub_1", status="paid", billing_reason="subscription_cycle"
    )
    invoice["auto_advance"] = None

    assert harness.process(harness.deliver("invoice.paid", invoice)) == "processed"

    record = harness.invoices.get("in_Renewal")
    assert record is not None
    assert (record.subscription_id, record.status, record.amount_due) == ("sub_1", "paid", 1000)
    assert [(line.description, line.amount, line.quantity) for line in record.lines] == [("Line 1", 1000, 1)]


def test_a_subscription_update_with_every_sdk_field_is_applied(harness: Harness, funders: MemoryFunders) -> None:
    subscription = subscription_object(
        "sub_1",
        "cus_1",
        [("si_seat", "price_seat", "incytes_seat"), ("si_case", "price_case", "incytes_case")],
        cancel_at_period_end=True,
    )
    subscription["items"]["data"][0].update({"quantity": 4, "current_period_start": 100, "current_period_end": 200})

    assert harness.process(harness.deliver("customer.subscription.updated", subscription)) == "processed"

    funder = funders.get("f1")
    assert funder is not None
    assert funder.subscription is not None
    assert funder.subscription.cancel_at_period_end is True
    assert [(item.kind, item.quantity) for item in funder.subscription.items] == [("seat", 4), ("case", 1)]
    assert (funder.subscription.current_period_start, funder.subscription.current_period_end) == (100, 200)


def test_a_customer_deletion_with_every_sdk_field_is_applied(harness: Harness, funders: MemoryFunders) -> None:
    customer = customer_object("cus_1", deleted=True)

    assert harness.process(harness.deliver("customer.deleted", customer)) == "processed"

    funder = funders.get("f1")
    assert funder is not None
    assert funder.stripe_customer_deleted is True


# --- invoices with more lines than an event embeds ----------------------------------------------------------------


def first_invoice_of_f1(invoice_id: str, *, line_count: int, has_more: bool) -> dict[str, Any]:
    invoice = invoice_object(
        invoice_id,
        "cus_1",
        subscription_id="sub_1",
        line_count=line_count,
        has_more=has_more,
        status="draft",
        auto_advance=True,
        billing_reason="subscription_create",
    )
    invoice["parent"]["subscription_details"]["metadata"] = {"incytes_funder_id": "f1"}
    return invoice


def test_an_invoice_with_more_lines_than_the_event_embeds_is_recorded_whole(harness: Harness) -> None:
    """Stripe embeds only the first page of `lines` (10 by default, `has_more` says there are more): "you'll get a
    lines property containing ... the first handful of those items"
    (https://docs.stripe.com/api/invoice-line-item/retrieve). The record and Finance's notice list every line."""
    embedded = first_invoice_of_f1("in_Long", line_count=10, has_more=True)
    harness.stripe.add(embedded)
    all_lines = [InvoiceLine(description=f"Line {n + 1}", amount=1000 + n, quantity=1) for n in range(12)]
    harness.stripe.lines["in_Long"] = all_lines

    assert harness.process(harness.deliver("invoice.created", embedded)) == "processed"

    assert harness.stripe.lines_asked == ["in_Long"]
    record = harness.invoices.get("in_Long")
    assert record is not None
    assert record.lines == all_lines
    (notice,) = harness.finance.published
    assert "Line 11: 10.10 USD" in notice.text
    assert "Line 12: 10.11 USD" in notice.text
    assert len(notice.data["invoice"]["lines"]) == 12  # type: ignore[index]


def test_an_invoice_whose_event_embeds_every_line_is_not_fetched(harness: Harness) -> None:
    embedded = first_invoice_of_f1("in_Short", line_count=3, has_more=False)
    harness.stripe.add(embedded)

    assert harness.process(harness.deliver("invoice.created", embedded)) == "processed"

    assert harness.stripe.lines_asked == []
    record = harness.invoices.get("in_Short")
    assert record is not None
    assert [line.description for line in record.lines] == ["Line 1", "Line 2", "Line 3"]
