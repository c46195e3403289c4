"""The load run's figures as a markdown report (build/load/report.md): what was measured, then the audit.

Absolute rates depend on the machine (the whole stack shares its cores with the load); ratios between the
stages, measured in the same run, carry over better: that is why the report gives both.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from load.mix import ROUTE_PATHS
from load.run import Figures, Sent

TIMELINE_ROWS = 12


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def seconds(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f} s"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def lags(figures: Figures, records: Sequence[Sent]) -> list[float]:
    return [
        figures.reported_at[s.item.usage_id] - s.answered for s in records if s.item.usage_id in figures.reported_at
    ]


def audit_passed(figures: Figures) -> bool:
    return bool(figures.audit) and all(ok for _, ok, _ in figures.audit)


def render(figures: Figures) -> str:
    settings = figures.settings
    accepted = figures.accepted()
    ingest_rate = len(accepted) / figures.ingest_seconds if figures.ingest_seconds else math.nan
    lines = [
        "# Load run (issue 15)",
        "",
        f"{len(figures.funder_ids)} funders, {settings.records} distinct usage records "
        f"({settings.duplicate_share:.0%} sent twice), {settings.concurrency} concurrent clients, seed "
        f"{settings.seed}, Stripe refusing meter events (429) for at least {settings.stripe_429_seconds:.0f} s in "
        f"the middle third; {os.cpu_count()} CPUs shared by the load, the API, the functions, moto and the "
        f"emulator. Setup (customers, funders, one-click subscriptions): {seconds(figures.setup_seconds)}.",
        "",
        "## Ingest",
        "",
        f"**{ingest_rate:.0f} usage records accepted per second** ({len(accepted)} in "
        f"{seconds(figures.ingest_seconds)}); client retries after a 5xx: {figures.client_retries}.",
        "",
    ]
    rows = []
    for route, path in ROUTE_PATHS.items():
        latencies = figures.latencies.get(route, [])
        count = figures.request_counts[route]
        per_request = f"{figures.request_records[route] / max(count, 1):.0f}"
        rows.append(
            (
                path,
                count,
                per_request,
                f"{percentile(latencies, 0.5) * 1000:.0f}",
                f"{percentile(latencies, 0.99) * 1000:.0f}",
            )
        )
    lines += table(("route", "requests", "records per request", "p50 ms", "p99 ms"), rows)
    lines += ["", *reporter_section(figures, accepted, ingest_rate), ""]
    lines += stripe_section(figures)
    lines += ["", *renewal_section(figures), ""]
    lines += ["## Finance messages", ""]
    lines += table(("phase", "messages published"), list(figures.finance_messages.items()))
    lines += ["", "## Audit", ""]
    lines += table(
        ("check", "result", "detail"),
        [(name, "pass" if ok else "**FAIL**", detail) for name, ok, detail in figures.audit],
    )
    lines += ["", f"**Audit {'passed' if audit_passed(figures) else 'FAILED'}.**", ""]
    return "\n".join(lines)


def reporter_section(figures: Figures, accepted: Sequence[Sent], ingest_rate: float) -> list[str]:
    lines = ["## The reporter: lag behind ingest, and the backlog under Stripe 429s", ""]
    rows = []
    for phase in figures.phases:
        records = [s for s in accepted if phase.started <= s.answered < (phase.ended or math.inf)]
        phase_lags = lags(figures, records)
        rows.append(
            (
                phase.name,
                f"{phase.started:.1f}-{phase.ended:.1f} s",
                len(records),
                seconds(percentile(phase_lags, 0.5)),
                seconds(percentile(phase_lags, 0.99)),
                seconds(max(phase_lags, default=math.nan)),
            )
        )
    reported_during = sum(
        1 for s in accepted if figures.reported_at.get(s.item.usage_id, math.inf) <= figures.ingest_seconds
    )
    alongside = reported_during / figures.ingest_seconds if figures.ingest_seconds else math.nan
    lines += [
        f"While ingest ran, the reporter got {reported_during} records to Stripe: {alongside:.1f} records/s, "
        f"**{alongside / ingest_rate:.2f}x the ingest rate** (sharing the machine with ingest; the 429 window "
        "included).",
        "",
        "Lag: from the API's answer accepting a record to Stripe holding the meter event that bills it (seen every "
        "0.5 s), per phase of ingest (records by when they were accepted).",
        "",
        *table(("phase", "time", "records accepted", "lag p50", "lag p99", "lag max"), rows),
        "",
    ]
    faulted = figures.phase("stripe_429")
    if faulted is None:
        return lines
    cleared = faulted.ended
    before_clear = [s for s in accepted if s.answered < cleared]
    reported_before_clear = sum(1 for s in before_clear if figures.reported_at.get(s.item.usage_id, math.inf) < cleared)
    backlog_at_clear = len(before_clear) - reported_before_clear
    last_reported = max((figures.reported_at.get(s.item.usage_id, math.nan) for s in before_clear), default=math.nan)
    drain = last_reported - cleared if before_clear else math.nan
    during = [s for s in accepted if faulted.started <= s.answered < cleared]
    peak = max((a - r for _, a, r in figures.backlog), default=0)
    drain_rate = backlog_at_clear / drain if drain and drain > 0 else math.nan
    lines += [
        f"Stripe answered **{figures.ingest_stripe_429} meter event requests with 429** from "
        f"{faulted.started:.1f} s to {cleared:.1f} s; meanwhile the API accepted **{len(during)} records** "
        "(ingest never calls Stripe). "
        f"Backlog (accepted, not yet at Stripe): peak **{peak}** records, **{backlog_at_clear}** when the 429s "
        f"ended; **drained {seconds(drain)} after** (every record accepted before then at Stripe).",
        "",
        f"Reporter catch-up: {drain_rate:.0f} records/s while draining (the backlog at the end of the 429s over "
        f"the drain time, new usage still arriving), **{drain_rate / ingest_rate:.1f}x the ingest rate** of this "
        f"run; {alone_text(figures, ingest_rate)}",
        "",
    ]
    lines += table(("time", "accepted", "at Stripe", "backlog"), timeline(figures))
    return lines


def alone_text(figures: Figures, ingest_rate: float) -> str:
    """The reporter's pace once ingest stopped (it has the machine to itself): the backlog then over the time it
    took to reach zero."""
    at_end = [(t, a, r) for t, a, r in figures.backlog if t >= figures.ingest_seconds]
    if not at_end or figures.drained_at is None or figures.drained_at <= at_end[0][0]:
        return "the backlog was gone when ingest stopped."
    started, accepted, reported = at_end[0]
    pace = (accepted - reported) / (figures.drained_at - started)
    return (
        f"alone, after ingest stopped: {accepted - reported} records in {figures.drained_at - started:.1f} s, "
        f"**{pace:.0f} records/s = {pace / ingest_rate:.1f}x the ingest rate**."
    )


def timeline(figures: Figures) -> list[tuple[str, int, int, int]]:
    samples = figures.backlog
    if not samples:
        return []
    step = max(1, len(samples) // TIMELINE_ROWS)
    chosen = samples[::step]
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    peak = max(samples, key=lambda sample: sample[1] - sample[2])
    if peak not in chosen:
        chosen = sorted([*chosen, peak])
    return [(f"{t:.1f} s", a, r, a - r) for t, a, r in chosen]


def stripe_section(figures: Figures) -> list[str]:
    duration = figures.drained_at or figures.ingest_seconds
    total = sum(figures.ingest_stripe_requests.values())
    meter_requests = figures.ingest_stripe_requests.get("POST /v1/billing/meter_events", 0)
    records = len(figures.accepted())
    lines = [
        "## Stripe requests during ingest and drain",
        "",
        f"{total} requests in {seconds(duration)}: **{total / duration:.1f} per second** (Stripe's limits: 100 "
        "writes/s live, 25 in test mode; live meter events 1,000/s on a limit of their own). Meter event requests "
        f"per 1,000 records: **{1000 * meter_requests / max(records, 1):.0f}** (429s included).",
        "",
    ]
    rows = [(name, count, f"{count / duration:.2f}") for name, count in figures.ingest_stripe_requests.most_common()]
    return lines + table(("endpoint", "requests", "per second"), rows)


def renewal_section(figures: Figures) -> list[str]:
    burst = figures.burst
    if not burst:
        return []
    deliveries = burst["deliveries"]
    rows = [(name, count) for name, count in sorted(burst["delivery_types"].items())]
    stripe_rows = [(name, count) for name, count in burst["stripe_requests"].most_common()]
    per_second = deliveries / burst["delivered_seconds"] if burst["delivered_seconds"] else math.nan
    return [
        "## Renewal day: every funder's period ends at once",
        "",
        f"The emulator's clock moved to the end of the period ({seconds(burst['clock_seconds'])}): "
        f"**{burst['renewal_invoices']} renewal invoices**, **{deliveries} webhook deliveries**, all delivered "
        f"{seconds(burst['delivered_seconds'])} after the move ({per_second:.1f} deliveries/s, "
        f"{len(burst['refused_deliveries'])} not answered 200); the product knew every renewal invoice after "
        f"{seconds(burst['known_seconds'])}.",
        "",
        *table(("event type", "deliveries"), rows),
        "",
        "Stripe requests while the renewal day's events were applied:",
        "",
        *table(("endpoint", "requests"), stripe_rows),
    ]
