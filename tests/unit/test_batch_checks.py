"""BatchChecker: batches only Stripe's meter summaries can settle (streamed, or saved over 24 h ago) are
confirmed, refused or re-sent exactly as the summaries show, and left pending when they cannot tell."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

from incytes_billing.domain.batch_checks import BatchChecker, BatchCheckReport
from incytes_billing.domain.finance import FinanceNotices
from incytes_billing.domain.reconciliation import Reconciler
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.errors import StripeUnavailable
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.usage import UsageKind
from tests.fakes import (
    NOW,
    PERIOD_START,
    Clock,
    MemoryBatches,
    MemoryFinance,
    MemoryFunders,
    MemoryMeters,
    MemoryUndelivered,
    MemoryUsage,
    report_then_crash,
)


@pytest.fixture
def checker(
    usage: MemoryUsage, batches: MemoryBatches, funders: MemoryFunders, meters: MemoryMeters, clock: Clock
) -> BatchChecker:
    return BatchChecker(usage=usage, batches=batches, funders=funders, meters=meters, summaries=meters, clock=clock)


def check(checker: BatchChecker) -> BatchCheckReport:
    report = BatchCheckReport()
    checker.check_funder("f1", report)
    return report


def stream_runs(streamer: UsageReporter, usage: MemoryUsage, *quantities: int, kind: UsageKind = "case") -> None:
    """One reporter run per quantity, each in its own batch, all in the same minute."""
    for n, quantity in enumerate(quantities):
        usage.add("f1", f"{kind}{n}", kind, quantity, NOW + timedelta(seconds=n))
        streamer.report_funders(["f1"])


def test_streamed_batches_are_confirmed_once_the_summaries_count_them(
    streamer: UsageReporter, checker: BatchChecker, usage: MemoryUsage, meters: MemoryMeters, clock: Clock
) -> None:
    stream_runs(streamer, usage, 2, 3, 4)
    assert check(checker).waiting == 3  # Stripe's summaries lag: too early to judge
    assert meters.summary_requests == 0

    clock.now = NOW + timedelta(minutes=16)
    report = check(checker)
    assert (report.confirmed, report.refused) == (3, 0)
    assert meters.summary_requests == 1  # one window for the three batches
    assert {usage.status(f"case{n}")[0] for n in range(3)} == {"reported"}
    assert check(checker).confirmed == 0  # settled: not looked at again


def test_a_streamed_batch_stripe_never_counted_fails_after_an_hour(
    streamer: UsageReporter, checker: BatchChecker, usage: MemoryUsage, meters: MemoryMeters, clock: Clock
) -> None:
    stream_runs(streamer, usage, 2, 3, 4)
    meters.refuse(next(e for e in meters.events.values() if e.value == 3).identifier)

    clock.now = NOW + timedelta(minutes=20)
    early = check(checker)
    assert (early.confirmed, early.refused, early.waiting) == (2, 0, 1)  # the 3 may still be in processing
    assert usage.status("case1")[0] == "pending"

    clock.now = NOW + timedelta(minutes=61)
    late = check(checker)
    assert (late.refused, late.failed_records) == (1, 1)
    status, reason = usage.status("case1")
    assert status == "failed"
    assert reason is not None
    assert "never counted" in reason


def test_batches_the_summaries_cannot_tell_apart_stay_pending_and_are_reported(
    streamer: UsageReporter, checker: BatchChecker, usage: MemoryUsage, meters: MemoryMeters, clock: Clock
) -> None:
    stream_runs(streamer, usage, 2, 2, 2)
    meters.refuse(next(iter(meters.events.values())).identifier)
    clock.now = NOW + timedelta(minutes=61)
    report = check(checker)
    (window,) = report.unattributed
    assert window.stripe_found == 4  # two of three equal batches: which two, no summary can say
    assert report.waiting == 3
    assert {usage.status(f"case{n}")[0] for n in range(3)} == {"pending"}  # nothing guessed


def test_a_stale_saved_batch_stripe_has_is_settled_without_a_resend(
    reporter: UsageReporter, checker: BatchChecker, usage: MemoryUsage, meters: MemoryMeters, clock: Clock
) -> None:
    usage.add("f1", "a", "case", 5, NOW)

    report_then_crash(reporter, usage, ["f1"])
    batches_before = meters.requests

    clock.now = NOW + timedelta(hours=25)  # past Stripe's 24 h dedupe: a blind re-send could bill it twice
    report = check(checker)
    assert (report.confirmed, report.resent) == (1, 0)
    assert meters.requests == batches_before
    assert usage.status("a")[0] == "reported"
    assert meters.total("cus_1", "case") == 5


def test_a_stale_saved_batch_stripe_never_had_is_resent_while_billable(
    reporter: UsageReporter, checker: BatchChecker, usage: MemoryUsage, meters: MemoryMeters, clock: Clock
) -> None:
    usage.add("f1", "a", "case", 5, NOW)
    meters.fail.append(StripeUnavailable("down"))
    reporter.report_funders(["f1"])
    clock.now = NOW + timedelta(hours=25)
    report = check(checker)
    assert (report.resent, report.confirmed) == (1, 1)
    assert usage.status("a")[0] == "reported"
    assert meters.total("cus_1", "case") == 5


def test_a_stale_batch_whose_period_was_invoiced_fails(
    reporter: UsageReporter,
    checker: BatchChecker,
    usage: MemoryUsage,
    meters: MemoryMeters,
    funders: MemoryFunders,
    clock: Clock,
) -> None:
    usage.add("f1", "a", "case", 5, NOW)
    meters.fail.append(StripeUnavailable("down"))
    reporter.report_funders(["f1"])
    funder = funders.items["f1"]
    assert funder.subscription is not None
    renewed = funder.subscription.model_copy(update={"current_period_start": int(NOW.timestamp()) + 3600})
    funders.items["f1"] = funder.model_copy(update={"subscription": renewed})
    clock.now = NOW + timedelta(hours=25)
    report = check(checker)
    assert (report.resent, report.refused) == (0, 1)
    assert usage.status("a") == ("failed", "its billing period was invoiced before its meter event reached Stripe")
    assert meters.total("cus_1", "case") == 0
    assert int(NOW.timestamp()) > PERIOD_START


def test_a_batch_delivered_within_the_lag_holds_back_the_verdict_on_its_minute(
    reporter: UsageReporter,
    checker: BatchChecker,
    usage: MemoryUsage,
    batches: MemoryBatches,
    funders: MemoryFunders,
    meters: MemoryMeters,
    clock: Clock,
) -> None:
    """A stale batch Stripe has, and one just delivered that Stripe's summary does not count yet, share a minute:
    judged now, the summary would show only "ours delivered", the stale one would look missing and be billed
    twice. The minute waits for the lag instead."""
    usage.add("f1", "a", "case", 5, NOW)

    report_then_crash(reporter, usage, ["f1"])  # Stripe has batch a; it stays saved
    (stale,) = batches.batches.values()
    clock.now = NOW + timedelta(hours=25)
    late = UsageReporter(usage, batches, funders, meters, load_catalog(), clock=clock)
    usage.add("f1", "b", "case", 5, NOW + timedelta(seconds=1))  # late usage of the same minute
    late.report_funders(["f1"])  # b delivered now; a is left to the checker (over 24 h old)
    (fresh,) = [b for b in batches.batches.values() if b.batch_id != stale.batch_id]
    del meters.events[fresh.identifier]  # Stripe's summaries do not count b yet
    sent = meters.requests

    report = check(checker)
    assert (report.resent, report.confirmed, report.refused) == (0, 0, 0)
    assert meters.requests == sent
    assert usage.status("a")[0] == "pending"

    clock.now = NOW + timedelta(hours=25, minutes=16)  # past the lag: b counted now, a found counted too
    meters.events[fresh.identifier] = fresh
    assert check(checker).confirmed == 1
    assert usage.status("a")[0] == "reported"


def test_the_reconciler_tells_finance_of_an_unattributed_window_once(
    streamer: UsageReporter,
    checker: BatchChecker,
    usage: MemoryUsage,
    batches: MemoryBatches,
    funders: MemoryFunders,
    meters: MemoryMeters,
    clock: Clock,
) -> None:
    stream_runs(streamer, usage, 2, 2, 2)
    meters.refuse(next(iter(meters.events.values())).identifier)
    clock.now = NOW + timedelta(minutes=61)
    finance = MemoryFinance()
    reconciler = Reconciler(
        batches=batches,
        checker=checker,
        funders=funders,
        meters=meters,
        undelivered=MemoryUndelivered(),
        ingress=cast(Any, None),  # nothing to replay
        finance=FinanceNotices(finance, finance, clock=clock),
        catalog=load_catalog(),
        clock=clock,
    )
    for _ in range(2):
        reconciler.run(["f1"])
    (notice,) = finance.published
    assert notice.event_type == "usage.unattributed"
    assert notice.data["stripe_found"] == 4
    assert sorted(cast(list[str], notice.data["batch_ids"])) == sorted(batches.batches)
