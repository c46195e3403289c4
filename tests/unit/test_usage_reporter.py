"""UsageReporter: aggregation per funder, kind and period; exactly once across crashes (in-memory ports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.errors import MeterEventRejected, StripeUnavailable
from incytes_billing.models.catalog import load_catalog
from tests.fakes import (
    NOW,
    PERIOD_START,
    SUBSCRIBED_AT,
    MemoryBatches,
    MemoryFinance,
    MemoryFunders,
    MemoryMeters,
    MemoryUsage,
    period_invoice,
    report_then_crash,
)


def test_aggregates_per_kind_into_one_event_each(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters
) -> None:
    for i in range(1000):
        usage.add("f1", f"c{i}", "case" if i % 4 else "sms", 1 + i % 3, NOW - timedelta(hours=i % 48))
    summary = reporter.report_funders(["f1"])
    assert meters.requests == 2  # 1,000 records, one meter event per kind
    assert summary.reported == 1000
    expected_cases = sum(1 + i % 3 for i in range(1000) if i % 4)
    assert meters.total("cus_1", "case") == expected_cases
    assert usage.writes == 1000  # one settle per record (plus its insert when recorded: 2 writes per record)
    assert {e.event_name for e in meters.events.values()} == {"incytes_case", "incytes_sms"}


def test_the_scheduled_re_drive_reports_every_funder_with_pending_records(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters
) -> None:
    usage.add("f1", "a", "case", 2, NOW)
    summary = reporter.report_pending()
    assert summary.reported == 1
    assert meters.total("cus_1", "case") == 2
    assert usage.funders_with_pending() == set()


def test_crash_after_stripe_accepted_resends_the_same_identifier(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters, batches: MemoryBatches
) -> None:
    usage.add("f1", "a", "case", 2, NOW)
    usage.add("f1", "b", "case", 3, NOW)

    report_then_crash(reporter, usage, ["f1"])
    assert meters.total("cus_1", "case") == 5  # Stripe has it; the ledger does not know yet

    usage.add("f1", "c", "case", 7, NOW)  # new usage arrived meanwhile: it goes in a new batch
    reporter.report_funders(["f1"])

    assert meters.total("cus_1", "case") == 12  # 5 once, plus 7: nothing billed twice
    assert {usage.status(u)[0] for u in "abc"} == {"reported"}
    assert len(meters.events) == 2
    assert len(batches.batches) == 2


def test_stripe_unavailable_leaves_records_claimed_for_the_retry(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters
) -> None:
    usage.add("f1", "a", "sms", 4, NOW)
    meters.fail.append(StripeUnavailable("down"))
    summary = reporter.report_funders(["f1"])
    assert summary.deferred_funders == {"f1"}
    assert usage.status("a")[0] == "pending"
    reporter.report_funders(["f1"])
    assert (usage.status("a")[0], meters.total("cus_1", "sms")) == ("reported", 4)


def test_usage_outside_the_subscription_is_unbillable_with_the_reason(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters
) -> None:
    meters.invoices[("sub_1", PERIOD_START)] = period_invoice("open")  # the previous period's, finalized
    usage.add("f1", "early", "case", 1, datetime.fromtimestamp(SUBSCRIBED_AT, UTC) - timedelta(days=1))
    usage.add("f1", "closed", "case", 1, datetime.fromtimestamp(PERIOD_START, UTC) - timedelta(days=2))
    usage.add("f1", "late", "case", 1, datetime.fromtimestamp(PERIOD_START, UTC) - timedelta(minutes=30))
    reporter.report_funders(["f1"])
    assert usage.status("early") == ("unbillable", "it occurred before the subscription started")
    invoiced = ("unbillable", "its billing period was already invoiced (invoice in_renewal is open)")
    assert usage.status("closed") == usage.status("late") == invoiced
    assert meters.events == {}


def test_canceled_subscription_and_deleted_customer(
    reporter: UsageReporter, usage: MemoryUsage, funders: MemoryFunders
) -> None:
    funder = funders.items["f1"]
    assert funder.subscription is not None
    canceled_at = int((NOW - timedelta(days=1)).timestamp())
    funders.items["f1"] = funder.model_copy(
        update={
            "subscription": funder.subscription.model_copy(update={"status": "canceled", "canceled_at": canceled_at})
        }
    )
    usage.add("f1", "after", "sms", 1, NOW)
    reporter.report_funders(["f1"])
    assert usage.status("after") == ("unbillable", "it occurred after the subscription was canceled")

    funders.items["f1"] = funders.items["f1"].model_copy(update={"stripe_customer_deleted": True})
    usage.add("f1", "gone", "sms", 1, NOW)
    summary = reporter.report_funders(["f1"])
    assert usage.status("gone")[0] == "failed"
    assert summary.failed == 1


def test_funders_without_customer_or_subscription_wait(reporter: UsageReporter, usage: MemoryUsage) -> None:
    usage.add("waiting", "w1", "case", 1, NOW)
    usage.add("bare", "b1", "case", 1, NOW)
    summary = reporter.report_funders(["waiting", "bare"])
    assert summary.waiting == 2
    assert usage.status("w1")[0] == usage.status("b1")[0] == "pending"


def test_refused_meter_event_fails_its_records(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters
) -> None:
    usage.add("f1", "a", "case", 1, NOW)
    meters.fail.append(MeterEventRejected("timestamp too old"))
    summary = reporter.report_funders(["f1"])
    assert usage.status("a") == ("failed", "Stripe refused its meter event: timestamp too old")
    assert summary.failed == 1


def test_batch_older_than_stripes_dedupe_window_is_not_resent(
    reporter: UsageReporter, usage: MemoryUsage, meters: MemoryMeters, batches: MemoryBatches
) -> None:
    usage.add("f1", "a", "case", 1, NOW)
    meters.fail.append(StripeUnavailable("down"))
    assert reporter.report_funders(["f1"]).deferred_funders == {"f1"}
    (batch,) = batches.batches.values()
    batches.batches[batch.batch_id] = batch.model_copy(update={"created_at": batch.created_at - 25 * 3600})
    summary = reporter.report_funders(["f1"])
    assert meters.requests == 1  # no blind re-send after 24 h
    assert summary.waiting == 1
    assert usage.status("a")[0] == "pending"


def test_stripe_unavailable_stops_calling_it_and_defers_every_funder_left(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    second = funders.items["f1"].model_copy(update={"funder_id": "f2", "stripe_customer_id": "cus_f2"})
    funders.items["f2"] = second
    reporter = UsageReporter(usage, batches, funders, meters, load_catalog(), clock=lambda: NOW)
    usage.add("f1", "a", "case", 1, NOW)
    usage.add("f2", "b", "case", 1, NOW)
    meters.fail.append(StripeUnavailable("throttled"))
    summary = reporter.report_funders(["f1", "f2"])
    assert meters.requests == 1  # no second call into a Stripe that just refused
    assert summary.deferred_funders == {"f1", "f2"}
    assert summary.waiting == 2


def test_a_large_backlog_is_split_into_bounded_batches(
    reporter: UsageReporter, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    for i in range(2500):
        usage.add("f1", f"c{i:05}", "case", 1, NOW)
    reporter.report_funders(["f1"])
    assert sorted(len(b.record_ids) for b in batches.batches.values()) == [500, 1000, 1000]
    assert meters.total("cus_1", "case") == 2500


def test_stream_mode_sends_100_events_a_request_and_keeps_records_pending(
    streamer: UsageReporter, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters, funders: MemoryFunders
) -> None:
    template = funders.items["f1"]
    for n in range(60):  # 60 funders x 2 kinds = 120 meter events
        funders.items[f"s{n}"] = template.model_copy(update={"funder_id": f"s{n}", "stripe_customer_id": f"cus_s{n}"})
        usage.add(f"s{n}", "c", "case", 2, NOW)
        usage.add(f"s{n}", "m", "sms", 3, NOW)
    summary = streamer.report_funders([f"s{n}" for n in range(60)])
    assert meters.requests == 2  # 120 events: two stream requests
    assert (summary.streamed_batches, summary.awaiting_validation, summary.reported) == (120, 120, 0)
    # Validated asynchronously: nothing is `reported` until Stripe is known to have counted it.
    assert {usage.status(u)[0] for u in ("c", "m")} == {"pending"}
    assert {(b.status, b.sent_at) for b in batches.batches.values()} == {("streamed", int(NOW.timestamp()))}

    again = streamer.report_funders([f"s{n}" for n in range(60)])  # a re-run streams nothing twice
    assert meters.requests == 2
    assert again.awaiting_validation == 120


def test_stream_mode_unavailable_leaves_batches_saved_for_the_retry(
    streamer: UsageReporter, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    usage.add("f1", "a", "case", 1, NOW)
    meters.fail.append(StripeUnavailable("down"))
    assert streamer.report_funders(["f1"]).deferred_funders == {"f1"}
    assert {b.status for b in batches.batches.values()} == {"saved"}
    streamer.report_funders(["f1"])
    (batch,) = batches.batches.values()
    assert batch.status == "streamed"
    assert meters.total("cus_1", "case") == 1


def test_unbillable_usage_is_shown_to_finance_once_per_group(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    finance = MemoryFinance()
    notices = FinanceNotices(finance, finance, clock=lambda: NOW)
    reporter = UsageReporter(usage, batches, funders, meters, load_catalog(), finance=notices, clock=lambda: NOW)
    before = datetime.fromtimestamp(SUBSCRIBED_AT, UTC) - timedelta(days=1)
    usage.add("f1", "e1", "case", 2, before)
    usage.add("f1", "e2", "case", 3, before)
    usage.add("f1", "old", "sms", 1, datetime.fromtimestamp(PERIOD_START, UTC) - timedelta(days=2))
    finance.down = True
    summary = reporter.report_funders(["f1"])
    assert (summary.unbillable, summary.waiting) == (0, 3)  # not told: not settled either, so retried
    assert usage.status("e1")[0] == "pending"

    finance.down = False
    assert reporter.report_funders(["f1"]).unbillable == 3
    subjects = sorted(notice.subject for notice in finance.published)
    assert subjects == ["Usage not billable: f1 (case)", "Usage not billable: f1 (sms)"]
    case = next(n for n in finance.published if n.data["kind"] == "case")
    assert (case.data["records"], case.data["quantity"], case.data["usage_ids"]) == (2, 5, ["e1", "e2"])
    assert "before the subscription started" in case.text
    reporter.report_funders(["f1"])
    assert len(finance.published) == 2  # settled: never told twice
