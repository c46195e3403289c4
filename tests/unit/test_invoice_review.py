"""InvoiceReviewService (domain/invoices.py): Finance lists first invoices by review state and approves one, which
finalizes it so that Stripe collects it; what Stripe says now decides, not the local record. In-memory ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from incytes_billing import invocation
from incytes_billing.domain.audit import AuditTrail
from incytes_billing.domain.invoices import InvoiceReviewService
from incytes_billing.errors import (
    BillingError,
    InvoiceCustomerDeleted,
    InvoiceNotDraft,
    InvoiceNotFound,
    InvoiceSubscriptionCanceled,
    InvoiceSubscriptionNotLinked,
)
from incytes_billing.models.caller import Caller
from incytes_billing.models.invoice import InvoiceRecord, ReviewStatus
from incytes_billing.models.stripe import StripeCustomer, StripeInvoice, StripeSubscription
from tests.fakes import Clock, MemoryAuditLog, MemoryFunders, MemoryInvoiceGateway, MemoryInvoices

FINANCE = Caller(
    user_arn="arn:aws:iam::123456789012:user/finance",
    caller="AIDAFINANCE",
    account_id="123456789012",
    user="AIDAFINANCE",
)


def stripe_invoice(invoice_id: str = "in_first", **fields: object) -> StripeInvoice:
    """f1's first invoice on Stripe: a held draft of sub_1, sent by email once finalized."""
    invoice = StripeInvoice(
        invoice_id=invoice_id,
        status="draft",
        amount_due=10500,
        currency="usd",
        auto_advance=False,
        billing_reason="subscription_create",
        subscription_id="sub_1",
        collection_method="send_invoice",
        customer_id="cus_1",
    )
    return replace(invoice, **fields)  # type: ignore[arg-type]


def invoice_record(
    invoice_id: str = "in_first", *, review_status: ReviewStatus = "pending", created: int = 1, **fields: object
) -> InvoiceRecord:
    values: dict[str, object] = {
        "invoice_id": invoice_id,
        "funder_id": "f1",
        "customer_id": "cus_1",
        "subscription_id": "sub_1",
        "status": "draft",
        "amount_due": 10500,
        "currency": "usd",
        "first_invoice": True,
        "review_status": review_status,
        "stripe_created": created,
    }
    return InvoiceRecord.model_validate({**values, **fields})


@pytest.fixture
def stripe() -> MemoryInvoiceGateway:
    gateway = MemoryInvoiceGateway()
    gateway.customers["cus_1"] = StripeCustomer("cus_1", deleted=False, currency="usd")
    gateway.subscriptions["sub_1"] = StripeSubscription(
        "sub_1", "cus_1", "active", "usd", "send_invoice", (), "in_first", None, "f1", False, None, 1
    )
    gateway.invoices["in_first"] = stripe_invoice()
    return gateway


@pytest.fixture
def invoices() -> MemoryInvoices:
    memory = MemoryInvoices()
    memory.save(invoice_record(), expected_version=None)
    return memory


@pytest.fixture
def log() -> Iterator[MemoryAuditLog]:
    """Finance's approve request being served; afterwards no request is."""
    invocation.begin(None, caller=FINANCE, http_request_id="req-approve")
    yield MemoryAuditLog()
    invocation.begin(None)


@pytest.fixture
def service(
    invoices: MemoryInvoices, funders: MemoryFunders, stripe: MemoryInvoiceGateway, log: MemoryAuditLog
) -> InvoiceReviewService:
    """Funder f1 is linked to cus_1 and billed by sub_1 (tests/unit/conftest.py)."""
    return InvoiceReviewService(invoices, funders, stripe, audit=AuditTrail(log, clock=Clock()))


def test_approving_a_held_draft_finalizes_it_for_collection_sends_it_and_records_who_approved(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway, invoices: MemoryInvoices, log: MemoryAuditLog
) -> None:
    approved = service.approve("in_first")

    assert (approved.status, approved.auto_advance) == ("open", True)  # Stripe now charges, emails, reminds
    assert stripe.sent == ["in_first"]  # send_invoice: emailed now, not an hour later
    record = invoices.get("in_first")
    assert record is not None
    assert (record.status, record.review_status) == ("open", "approved")
    assert (record.approved_by, record.approved_at) == (FINANCE.user_arn, "2026-11-25T12:00:00.000Z")
    (entry,) = log.entries.values()
    assert (entry.action, entry.request_id, entry.details["invoice_id"]) == (
        "invoice.approved",
        "req-approve",
        "in_first",
    )


def test_an_invoice_charged_automatically_is_finalized_and_not_sent(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway
) -> None:
    stripe.invoices["in_first"] = stripe_invoice(collection_method="charge_automatically")
    assert service.approve("in_first").status == "open"
    assert stripe.sent == []


def test_approving_twice_changes_nothing_the_second_time(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway, invoices: MemoryInvoices, log: MemoryAuditLog
) -> None:
    service.approve("in_first")
    first = invoices.get("in_first")
    invocation.begin(None, caller=FINANCE, http_request_id="req-again")

    again = service.approve("in_first")

    assert again.status == "open"
    assert stripe.sent == ["in_first"]
    assert invoices.get("in_first") == first  # the first approver stays the approver
    assert len(log.entries) == 1


def test_an_invoice_finalized_while_held_is_released_so_that_stripe_collects_it(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway, invoices: MemoryInvoices
) -> None:
    """Finalized in the Dashboard with auto_advance still false: Stripe would never charge, send, retry or remind."""
    stripe.invoices["in_first"] = stripe_invoice(status="open", auto_advance=False)

    approved = service.approve("in_first")

    assert (approved.status, approved.auto_advance) == ("open", True)
    record = invoices.get("in_first")
    assert record is not None
    assert (record.status, record.review_status, record.approved_by) == ("open", "approved", FINANCE.user_arn)


def test_an_invoice_already_paid_is_recorded_approved_without_an_approver(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway, invoices: MemoryInvoices, log: MemoryAuditLog
) -> None:
    """Approved elsewhere (the Dashboard) and paid since: this request approved nothing."""
    stripe.invoices["in_first"] = stripe_invoice(status="paid", auto_advance=False)

    assert service.approve("in_first").status == "paid"

    record = invoices.get("in_first")
    assert record is not None
    assert (record.status, record.review_status, record.approved_by) == ("paid", "approved", None)
    assert log.entries == {}


@pytest.mark.parametrize("status", ["void", "uncollectible"])
def test_a_closed_invoice_cannot_be_approved(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway, status: str
) -> None:
    stripe.invoices["in_first"] = stripe_invoice(status=status)
    with pytest.raises(InvoiceNotDraft):
        service.approve("in_first")


def test_an_invoice_unknown_to_stripe_or_of_no_funders_customer_is_not_found(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway
) -> None:
    stripe.invoices["in_other"] = stripe_invoice("in_other", customer_id="cus_Other", subscription_id="sub_Other")
    for invoice_id in ("in_missing", "in_other"):
        with pytest.raises(InvoiceNotFound):
            service.approve(invoice_id)
    assert stripe.invoices["in_other"].status == "draft"


def deleted_customer(stripe: MemoryInvoiceGateway) -> None:
    stripe.customers["cus_1"] = StripeCustomer("cus_1", deleted=True, currency="usd")


def unlinked_subscription(stripe: MemoryInvoiceGateway) -> None:
    stripe.invoices["in_first"] = stripe_invoice(subscription_id="sub_Manual")


def canceled_subscription(stripe: MemoryInvoiceGateway) -> None:
    stripe.subscriptions["sub_1"] = replace(stripe.subscriptions["sub_1"], status="canceled")


@pytest.mark.parametrize(
    ("arrange", "refusal"),
    [
        (deleted_customer, InvoiceCustomerDeleted),
        (unlinked_subscription, InvoiceSubscriptionNotLinked),
        (canceled_subscription, InvoiceSubscriptionCanceled),
    ],
)
def test_a_draft_that_must_not_be_collected_is_left_a_draft(
    service: InvoiceReviewService,
    stripe: MemoryInvoiceGateway,
    invoices: MemoryInvoices,
    arrange: Callable[[MemoryInvoiceGateway], None],
    refusal: type[BillingError],
) -> None:
    arrange(stripe)
    with pytest.raises(refusal):
        service.approve("in_first")
    assert stripe.invoices["in_first"].status == "draft"
    record = invoices.get("in_first")
    assert record is not None
    assert record.review_status == "pending"


def test_a_one_off_invoice_of_a_funders_customer_is_approved_without_a_subscription(
    service: InvoiceReviewService, stripe: MemoryInvoiceGateway
) -> None:
    stripe.invoices["in_oneoff"] = stripe_invoice("in_oneoff", subscription_id=None, billing_reason="manual")
    assert service.approve("in_oneoff").status == "open"


def test_invoices_are_listed_by_review_state_oldest_first(
    service: InvoiceReviewService, invoices: MemoryInvoices
) -> None:
    invoices.save(invoice_record("in_older", created=0), expected_version=None)
    invoices.save(invoice_record("in_missed", review_status="missed", status="open"), expected_version=None)

    assert [i.invoice_id for i in service.listed("pending")] == ["in_older", "in_first"]
    assert [i.invoice_id for i in service.listed("missed")] == ["in_missed"]
    assert service.listed("approved") == []


def test_one_invoice_is_read_as_recorded_and_an_unknown_one_is_not_found(
    service: InvoiceReviewService, invoices: MemoryInvoices, stripe: MemoryInvoiceGateway
) -> None:
    invoices.save(invoice_record("in_missed", review_status="missed", status="open"), expected_version=None)

    assert service.invoice("in_missed") == invoices.get("in_missed")
    with pytest.raises(InvoiceNotFound):
        service.invoice("in_unknown")
    stripe.invoices["in_stripe_only"] = stripe_invoice("in_stripe_only")  # no event told us of it
    with pytest.raises(InvoiceNotFound):
        service.invoice("in_stripe_only")
