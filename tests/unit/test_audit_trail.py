"""The audit trail's domain rules (issue 11 §3) with in-memory ports; the DynamoDB adapter under moto."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from botocore.exceptions import ClientError

from incytes_billing import invocation
from incytes_billing.adapters import dynamodb_audit
from incytes_billing.adapters.dynamodb_audit import DynamoDBAuditLog
from incytes_billing.domain.audit import AuditHistory, AuditTrail
from incytes_billing.domain.funders import FunderService
from incytes_billing.domain.usage import UsageLedger
from incytes_billing.errors import FunderNotFound, ValidationFailed
from incytes_billing.models.audit import AuditEntry
from incytes_billing.models.caller import Caller
from incytes_billing.models.funder import FunderUpsert
from incytes_billing.models.stripe import StripeCustomer
from incytes_billing.models.usage import UsageInput
from local_stack.template.intrinsics import StackResources
from tests.fakes import NOW, MemoryAuditLog, MemoryCustomers, MemoryFunders, MemoryUsage

ENGINEER = Caller(
    user_arn="arn:aws:iam::123456789012:user/incytes-backend",
    caller="AIDAEXAMPLE",
    account_id="123456789012",
    user="AIDAEXAMPLE",
)


class Ticks:
    """A clock a millisecond further on each call, as two requests never share an instant and a request id."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return NOW.replace(microsecond=self.calls * 1000)


def serving(request_id: str, *stripe_request_ids: str) -> None:
    """An API request being served: its caller, API Gateway request id, and the Stripe requests made so far."""
    current = invocation.begin(None, caller=ENGINEER, http_request_id=request_id)
    for stripe_request_id in stripe_request_ids:
        current.note_stripe_request(stripe_request_id)


@pytest.fixture
def funders() -> MemoryFunders:
    """No funder yet (the unit suites' shared fixture has subscribed ones)."""
    return MemoryFunders()


@pytest.fixture
def log() -> MemoryAuditLog:
    return MemoryAuditLog()


@pytest.fixture
def trail(log: MemoryAuditLog) -> AuditTrail:
    return AuditTrail(log, clock=Ticks())


def test_an_entry_names_the_caller_the_request_and_its_stripe_requests(trail: AuditTrail, log: MemoryAuditLog) -> None:
    serving("req-api-1", "req_A1", "req_A2")
    entry = trail.record("f1", "subscription.canceled", subscription_id="sub_1", when="now")
    assert entry.caller == ENGINEER
    assert (entry.request_id, entry.stripe_request_ids) == ("req-api-1", ["req_A1", "req_A2"])
    assert entry.recorded_at == "2026-11-25T12:00:00.001Z"
    assert entry.details == {"subscription_id": "sub_1", "when": "now"}
    assert list(log.entries.values()) == [entry]
    serving("req-api-2")  # a new invocation starts with no Stripe request of its own
    assert trail.record("f1", "funder.unlinked").stripe_request_ids == []


def test_link_changes_are_recorded_and_replays_and_renames_are_not(
    funders: MemoryFunders, trail: AuditTrail, log: MemoryAuditLog
) -> None:
    service = FunderService(
        funders,
        MemoryCustomers(*(StripeCustomer(c, deleted=False, currency="usd") for c in ("cus_1", "cus_2"))),
        clock=lambda: NOW,
        audit=trail,
    )
    serving("r1")
    service.upsert("f1", FunderUpsert(name="Acme"))  # a funder without a customer: no billing action
    serving("r2", "req_customer")
    service.upsert("f1", FunderUpsert(name="Acme", stripe_customer_id="cus_1"))
    serving("r3")
    service.upsert("f1", FunderUpsert(name="Acme", stripe_customer_id="cus_1"))  # replay
    service.upsert("f1", FunderUpsert(name="Acme Health"))  # rename keeps the link
    serving("r4", "req_other")
    service.upsert("f1", FunderUpsert(name="Acme Health", stripe_customer_id="cus_2"))
    serving("r5")
    service.upsert("f1", FunderUpsert(name="Acme Health", stripe_customer_id=None))

    entries = sorted(log.entries.values(), key=lambda entry: entry.sort_key)
    assert [(e.action, e.request_id, e.details) for e in entries] == [
        ("funder.linked", "r2", {"customer_id": "cus_1", "previous_customer_id": None, "currency": "usd"}),
        ("funder.linked", "r4", {"customer_id": "cus_2", "previous_customer_id": "cus_1", "currency": "usd"}),
        ("funder.unlinked", "r5", {"previous_customer_id": "cus_2"}),
    ]
    assert entries[0].stripe_request_ids == ["req_customer"]


def test_usage_is_recorded_once_per_request_and_funder_with_counts(
    funders: MemoryFunders, trail: AuditTrail, log: MemoryAuditLog
) -> None:
    service = FunderService(funders, MemoryCustomers(), clock=lambda: NOW)
    for funder_id in ("f1", "f2"):
        service.upsert(funder_id, FunderUpsert(name=funder_id))
    ledger = UsageLedger(MemoryUsage(), funders, clock=lambda: NOW, audit=trail)
    record: dict[str, Any] = {"kind": "case", "quantity": 1, "occurred_at": "2026-11-25T11:00:00Z"}

    serving("single")
    assert ledger.record("f1", UsageInput(usage_id="u1", **record)) == "accepted"
    serving("single-replay")
    assert ledger.record("f1", UsageInput(usage_id="u1", **record)) == "duplicate"
    batch = [
        {"funder_id": "f1", "usage_id": "u1", **record},  # duplicate
        {"funder_id": "f1", "usage_id": "u2", **record},
        {"funder_id": "f1", "usage_id": "u3", **record, "kind": "fax"},  # rejected
        {"funder_id": "f2", "usage_id": "u1", **record},
        {"funder_id": "nobody", "usage_id": "u1", **record},  # rejected: no such funder, nothing to record
        "not a record",
    ]
    serving("batch")
    ledger.record_batch(batch)
    serving("batch-replay")
    ledger.record_batch(batch)  # nothing new: nothing recorded

    assert {(e.funder_id, e.request_id): e.details for e in log.entries.values()} == {
        ("f1", "single"): {"accepted": 1, "duplicate": 0, "rejected": 0},
        ("f1", "batch"): {"accepted": 1, "duplicate": 1, "rejected": 1},
        ("f2", "batch"): {"accepted": 1, "duplicate": 0, "rejected": 0},
    }
    assert {e.action for e in log.entries.values()} == {"usage.accepted"}


def test_the_history_pages_newest_first_and_refuses_foreign_cursors(
    funders: MemoryFunders, trail: AuditTrail, log: MemoryAuditLog
) -> None:
    FunderService(funders, MemoryCustomers(), clock=lambda: NOW).upsert("f1", FunderUpsert(name="Acme"))
    for n in range(5):
        serving(f"r{n}")
        trail.record("f1", "usage.accepted", accepted=n)
    history = AuditHistory(log, funders)

    first = history.page("f1", limit=2)
    second = history.page("f1", limit=2, cursor=first.next_cursor)
    last = history.page("f1", limit=2, cursor=second.next_cursor)
    seen = [e.request_id for page in (first, second, last) for e in page.entries]
    assert seen == ["r4", "r3", "r2", "r1", "r0"]
    assert last.next_cursor is None
    assert history.page("f1", limit=5).next_cursor is None  # exactly one page: no empty page after it

    for cursor in ("not base64 at all!", "ZnVuZGVy", ""):
        with pytest.raises(ValidationFailed):
            history.page("f1", cursor=cursor)
    with pytest.raises(FunderNotFound):
        history.page("nobody")


class _RefusingTable:
    def put_item(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutItem")


@pytest.fixture
def audit_table(aws: StackResources) -> Any:
    """The AuditTable as template.yaml defines it, in moto."""
    return boto3.resource("dynamodb").Table(aws["AuditTable"])


def test_the_dynamodb_log_stores_an_entry_once_and_pages_it(audit_table: Any) -> None:
    adapter = DynamoDBAuditLog(audit_table)
    trail = AuditTrail(adapter, clock=Ticks())
    for n in range(3):
        serving(f"r{n}", f"req_{n}")
        entry = trail.record("f1", "invoice.approved", invoice_id=f"in_{n}", amount_due=3500)
    adapter.append(entry)  # appended again (a retry): stored once
    assert audit_table.scan()["Count"] == 3

    page, after = adapter.page("f1", limit=2, after=None)
    assert [e.request_id for e in page] == ["r2", "r1"]
    assert page[0] == AuditEntry(
        funder_id="f1",
        recorded_at="2026-11-25T12:00:00.003Z",
        request_id="r2",
        action="invoice.approved",
        caller=ENGINEER,
        stripe_request_ids=["req_2"],
        details={"invoice_id": "in_2", "amount_due": 3500},
    )
    rest, after = adapter.page("f1", limit=2, after=after)
    assert ([e.request_id for e in rest], after) == (["r0"], None)


def test_a_failed_write_is_logged_whole_and_counted_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(dynamodb_audit.logger, "error", lambda message, extra: logged.append((message, extra)))
    metrics = Metrics(namespace="InCytesBilling")
    metrics.clear_metrics()
    serving("r1", "req_1")
    entry = AuditTrail(DynamoDBAuditLog(_RefusingTable()), clock=Ticks()).record(  # type: ignore[arg-type]
        "f1", "subscription.created", subscription_id="sub_1"
    )
    try:
        assert metrics.metric_set["AuditWriteFailed"]["Value"] == [1.0]
    finally:
        metrics.clear_metrics()
    ((message, extra),) = logged
    assert message == "audit entry not written"
    assert extra["audit_entry"] == {**entry.model_dump(mode="json"), "entry_key": entry.sort_key}
