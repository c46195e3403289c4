"""Usage at billing period boundaries is decided by the invoice of the period it occurred in, not by the clock
(issue 9 §5). Stripe counts usage for an ended period while that period's invoice is a draft: it finalizes the
draft one hour after `invoice.created` was delivered (up to 72 h, configurable per account; the draft's
`automatically_finalizes_at`), with the usage it has by then
(https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period,
https://docs.stripe.com/invoicing/integration/workflow-transitions#finalize-draft-invoices). In-memory ports.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from incytes_billing.domain.batch_checks import BatchChecker, BatchCheckReport
from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.domain.reconciliation import Reconciler, ReconciliationReport
from incytes_billing.domain.reporting import FINALIZATION_MARGIN_SECONDS, UsageReporter
from incytes_billing.errors import StripeUnavailable
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.usage import MeterBatch
from tests.fakes import (
    NOW,
    MemoryBatches,
    MemoryFinance,
    MemoryFunders,
    MemoryMeters,
    MemoryUndelivered,
    MemoryUsage,
    period_invoice,
)
from tests.support import settled_batch

HOUR = 3600


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def renewed(funders: MemoryFunders, start: datetime, **changes: Any) -> int:
    """Funder f1's subscription as recorded after Stripe renewed it at `start`; answers `start` in seconds."""
    funder = funders.items["f1"]
    assert funder.subscription is not None
    period = {"current_period_start": seconds(start), "current_period_end": seconds(start) + 30 * 86400}
    subscription = funder.subscription.model_copy(update=period | changes)
    funders.items["f1"] = funder.model_copy(update={"subscription": subscription})
    return seconds(start)


def told(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> tuple[UsageReporter, MemoryFinance]:
    """A reporter whose unbillable notices reach Finance (in memory)."""
    finance = MemoryFinance()
    notices = FinanceNotices(finance, finance, clock=lambda: NOW)
    reporter = UsageReporter(usage, batches, funders, meters, load_catalog(), finance=notices, clock=lambda: NOW)
    return reporter, finance


def test_late_usage_reported_while_the_renewal_is_a_draft_is_billed_in_its_period(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters, funders: MemoryFunders
) -> None:
    """Usage from start-2 h reported at start+10 min, the renewal still a draft: sent, dated in the ended period
    (the clock rule made it unbillable)."""
    start = renewed(funders, NOW - timedelta(minutes=10))
    meters.invoices[("sub_1", start)] = period_invoice("draft", period_end=start, finalizes_at=start + HOUR)
    usage.add("f1", "late-case", "case", 2, at(start) - timedelta(hours=2))
    usage.add("f1", "late-sms", "sms", 3, at(start) - timedelta(hours=3))
    usage.add("f1", "older", "case", 1, at(start) - timedelta(days=31))  # the period before: invoiced long ago
    usage.add("f1", "now", "case", 5, NOW)

    summary = reporter.report_funders(["f1"])

    assert (summary.reported, summary.unbillable) == (3, 1)
    by_value = {(e.kind, e.value): e.timestamp for e in meters.events.values()}
    assert by_value == {
        ("case", 2): start - 2 * HOUR,  # inside the period it occurred in, whose invoice bills it
        ("sms", 3): start - 3 * HOUR,
        ("case", 5): seconds(NOW),
    }
    assert usage.status("older") == ("unbillable", "its billing period was already invoiced")
    assert meters.invoice_requests == 1  # one question per subscription and period in a run


def test_late_usage_reported_after_the_renewal_was_finalized_is_unbillable_and_told(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    """Usage from start-20 min reported at start+3 h, the renewal finalized: Stripe would take the meter event
    and never invoice it (the clock rule marked it reported). Unbillable, and Finance is told the quantity."""
    reporter, finance = told(funders, usage, batches, meters)
    start = renewed(funders, NOW - timedelta(hours=3))
    meters.invoices[("sub_1", start)] = period_invoice("open", period_end=start, invoice_id="in_renewal")
    usage.add("f1", "late", "sms", 4, at(start) - timedelta(minutes=20))

    summary = reporter.report_funders(["f1"])

    assert (summary.reported, summary.unbillable) == (0, 1)
    assert meters.events == {}
    reason = "its billing period was already invoiced (invoice in_renewal is open)"
    assert usage.status("late") == ("unbillable", reason)
    (notice,) = finance.published
    assert notice.event_type == "usage.unbillable"
    assert (notice.data["usage_ids"], notice.data["quantity"], notice.data["reason"]) == (["late"], 4, reason)


def test_a_draft_about_to_be_finalized_takes_no_late_usage(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    """Still a draft, but finalized before Stripe may have processed the event: unbillable, not lost unseen."""
    reporter, finance = told(funders, usage, batches, meters)
    start = renewed(funders, NOW - timedelta(minutes=55))
    finalizes = seconds(NOW) + FINALIZATION_MARGIN_SECONDS - 60
    meters.invoices[("sub_1", start)] = period_invoice("draft", period_end=start, finalizes_at=finalizes)
    usage.add("f1", "late", "case", 1, at(start) - timedelta(minutes=30))

    reporter.report_funders(["f1"])

    status, reason = usage.status("late")
    assert status == "unbillable"
    assert reason is not None
    assert "in_renewal is finalized at" in reason
    assert meters.events == {}
    assert len(finance.published) == 1


def test_a_canceled_subscriptions_last_period_is_billed_by_its_final_invoice(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    """Usage of the last period reported after the cancellation: sent while the final invoice is a draft,
    unbillable and told once it is finalized (the clock rule sent both)."""
    reporter, finance = told(funders, usage, batches, meters)
    start = renewed(funders, NOW - timedelta(days=10))
    canceled = seconds(NOW - timedelta(minutes=10))
    subscription = funders.items["f1"].subscription
    assert subscription is not None
    renewed(funders, at(start), status="canceled", canceled_at=canceled)
    final = period_invoice("draft", period_end=canceled, finalizes_at=canceled + HOUR, invoice_id="in_final")
    meters.invoices[("sub_1", canceled)] = final
    usage.add("f1", "before", "case", 2, at(canceled) - timedelta(hours=1))
    reporter.report_funders(["f1"])
    assert usage.status("before")[0] == "reported"
    assert [e.timestamp for e in meters.events.values()] == [canceled - HOUR]

    meters.invoices[("sub_1", canceled)] = period_invoice("open", period_end=canceled, invoice_id="in_final")
    usage.add("f1", "later", "case", 3, at(canceled) - timedelta(minutes=5))
    reporter.report_funders(["f1"])
    assert usage.status("later") == ("unbillable", "its billing period was already invoiced (invoice in_final is open)")
    assert [n.data["quantity"] for n in finance.published] == [3]


def test_a_cancellation_at_period_end_bills_the_period_to_its_end(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters, funders: MemoryFunders
) -> None:
    """Stripe's `canceled_at` of a cancellation at period end is when it was asked for; the subscription bills
    until the period ends (the reporter made usage after the request unbillable)."""
    renewed(
        funders,
        NOW - timedelta(days=10),
        cancel_at_period_end=True,
        canceled_at=seconds(NOW - timedelta(days=1)),
    )
    usage.add("f1", "after-request", "case", 1, NOW)
    reporter.report_funders(["f1"])
    assert usage.status("after-request")[0] == "reported"
    assert meters.invoice_requests == 0  # the current period: nothing to ask


def test_late_usage_waits_while_its_invoice_cannot_be_read(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters, funders: MemoryFunders
) -> None:
    start = renewed(funders, NOW - timedelta(minutes=10))
    meters.invoices[("sub_1", start)] = period_invoice("draft", period_end=start, finalizes_at=start + HOUR)
    meters.invoice_fail.append(StripeUnavailable("down"))
    usage.add("f1", "late", "case", 1, at(start) - timedelta(hours=2))
    usage.add("f1", "now", "case", 1, NOW)

    summary = reporter.report_funders(["f1"])
    assert summary.deferred_funders == {"f1"}  # the stream retries it
    assert (usage.status("late")[0], usage.status("now")[0]) == ("pending", "reported")

    reporter.report_funders(["f1"])
    assert usage.status("late")[0] == "reported"


def test_a_stale_batch_of_the_previous_period_is_resent_while_its_invoice_is_a_draft(
    reporter: UsageReporter,
    usage: MemoryUsage,
    batches: MemoryBatches,
    meters: MemoryMeters,
    funders: MemoryFunders,
) -> None:
    """Saved 25 h ago, never sent; its period ended since, and the account's grace (up to 72 h) keeps the renewal
    a draft: it is still billable, so it is sent (the clock rule refused it an hour after the period ended)."""
    usage.add("f1", "a", "case", 5, NOW)
    meters.fail.append(StripeUnavailable("down"))
    reporter.report_funders(["f1"])
    start = renewed(funders, NOW + timedelta(hours=1))
    meters.invoices[("sub_1", start)] = period_invoice("draft", period_end=start, finalizes_at=start + 72 * HOUR)
    later = NOW + timedelta(hours=25)
    checker = BatchChecker(
        usage=usage, batches=batches, funders=funders, meters=meters, summaries=meters, clock=lambda: later
    )
    report = BatchCheckReport()
    checker.check_funder("f1", report)
    assert (report.resent, report.refused) == (1, 0)
    assert usage.status("a")[0] == "reported"
    assert meters.total("cus_1", "case") == 5


def delivered(batches: MemoryBatches, batch_id: str, value: int, timestamp: int, sent_at: int) -> MeterBatch:
    return batches.save(settled_batch(batch_id, "sms", value, timestamp, customer_id="cus_1", sent_at=sent_at))


def test_the_reconciler_compares_the_previous_period_that_late_usage_reached(
    usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters, funders: MemoryFunders
) -> None:
    """Late usage sent into the previous period is compared with Stripe's summary of it too (only the current
    period was): a late batch Stripe does not count is told to Finance."""
    start = renewed(funders, NOW - timedelta(hours=2))
    on_time = delivered(batches, "on-time", 3, start - 5 * HOUR, sent_at=start - 5 * HOUR)
    meters.events[on_time.identifier] = on_time
    delivered(batches, "late", 4, start - 2 * HOUR, sent_at=start + 10 * 60)  # Stripe never counted it
    current = delivered(batches, "current", 2, start + 60, sent_at=start + 60)
    meters.events[current.identifier] = current
    finance = MemoryFinance()
    clock = {"now": NOW}
    reconciler = Reconciler(
        batches=batches,
        checker=cast(Any, None),  # compare_funder only
        funders=funders,
        meters=meters,
        undelivered=MemoryUndelivered(),
        ingress=cast(Any, None),
        finance=FinanceNotices(finance, finance, clock=lambda: clock["now"]),
        catalog=load_catalog(),
        clock=lambda: clock["now"],
    )

    report = ReconciliationReport()
    reconciler.compare_funder("f1", report)

    (found,) = report.discrepancies
    assert (found["kind"], found["ledger"], found["stripe"], found["to"]) == ("sms", 7, 3, start // 60 * 60)
    assert [n.event_type for n in finance.published] == ["usage.discrepancy"]

    clock["now"] = NOW + timedelta(days=5)  # no late usage reaches it any more: it is not read again
    later = ReconciliationReport()
    reconciler.compare_funder("f1", later)
    assert later.discrepancies == []
    assert later.compared == 2  # the current period, per meter
