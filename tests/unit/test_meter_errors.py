"""MeterErrorSettler: Stripe's asynchronous refusals (error reports) fail exactly the records of the batches
their samples name; what no sample names is counted for the reconciler (in-memory ports)."""

from __future__ import annotations

from incytes_billing.domain.meter_errors import MeterErrorSettler
from incytes_billing.domain.reporting import UsageReporter
from incytes_billing.models.catalog import load_catalog
from incytes_billing.models.events import VerifiedEvent
from tests.fakes import NOW, MemoryBatches, MemoryFunders, MemoryMeters, MemoryThinEvents, MemoryUsage
from tests.unit.event_harness import Harness


def test_sampled_batches_fail_the_rest_are_left_for_the_reconciler(
    funders: MemoryFunders, usage: MemoryUsage, batches: MemoryBatches, meters: MemoryMeters
) -> None:
    streamer = UsageReporter(usage, batches, funders, meters, load_catalog(), mode="stream", clock=lambda: NOW)
    usage.add("f1", "c1", "case", 2, NOW)
    usage.add("f1", "s1", "sms", 3, NOW)
    streamer.report_funders(["f1"])
    case_batch = next(b for b in batches.batches.values() if b.kind == "case")
    reports = MemoryThinEvents()
    # One refusal names our case batch; two more (not ours, or unsampled) name nothing we know.
    reports.add_error_report("evt_1", ("meter_event_customer_not_found", 3, [case_batch.identifier, "someone-else"]))
    settler = MeterErrorSettler(usage, batches, reports)

    outcome = settler.apply_event("evt_1")
    assert (outcome.refused_batches, outcome.failed_records, outcome.unattributed_errors) == (1, 1, 2)
    status, reason = usage.status("c1")
    assert status == "failed"
    assert reason is not None
    assert "meter_event_customer_not_found" in reason
    assert usage.status("s1")[0] == "pending"  # unnamed: still awaiting confirmation
    assert (batches.batches[case_batch.batch_id].status, batches.batches[case_batch.batch_id].outcome) == (
        "settled",
        "refused",
    )

    again = settler.apply_event("evt_1")  # the same report delivered twice changes nothing
    assert (again.refused_batches, again.failed_records) == (0, 0)


def test_a_synchronously_reported_batch_refused_later_fails_its_records(
    reporter: UsageReporter, usage: MemoryUsage, batches: MemoryBatches
) -> None:
    """The customer is checked asynchronously on every channel: v1 accepts the event, then reports it."""
    usage.add("f1", "c1", "case", 2, NOW)
    reporter.report_funders(["f1"])
    assert usage.status("c1")[0] == "reported"
    (batch,) = batches.batches.values()
    reports = MemoryThinEvents()
    reports.add_error_report("evt_2", ("meter_event_customer_not_found", 1, [batch.identifier]))
    outcome = MeterErrorSettler(usage, batches, reports).apply_event("evt_2")
    assert outcome.failed_records == 1
    assert usage.status("c1")[0] == "failed"


def test_the_event_processor_returns_what_an_error_report_settled(
    funders: MemoryFunders, reporter: UsageReporter, usage: MemoryUsage, batches: MemoryBatches
) -> None:
    """Processing answers the report's outcome itself (the handler's failed-usage metric); nothing is left on the
    processor for the next event."""
    usage.add("f1", "c1", "case", 2, NOW)
    reporter.report_funders(["f1"])
    (batch,) = batches.batches.values()
    reports = MemoryThinEvents()
    reports.add_error_report("evt_report", ("meter_event_customer_not_found", 2, [batch.identifier]))
    harness = Harness(funders, meter_errors=MeterErrorSettler(usage, batches, reports))
    thin = VerifiedEvent("evt_report", "v1.billing.meter.error_report_triggered", 0, "thin", False, None, "{}")
    harness.events.insert(thin, received_at=0)

    processed = harness.processor.process("evt_report")
    assert processed.status == "processed"
    assert (processed.meter_errors.failed_records, processed.meter_errors.unattributed_errors) == (1, 1)
    again = harness.processor.process("evt_report")  # already processed: nothing settled this time
    assert (again.status, again.meter_errors.failed_records) == ("processed", 0)
