"""One load run against a local stack: funders, the usage mix (with a Stripe 429 window), the renewal day, the audit.

Everything the product does is driven through its HTTP API, as inCytes and Stripe call it; the Stripe emulator's
test controls (`/_emulator`: faults, request log, meter events, clock, webhook deliveries) and moto's tables are
read only to measure and to audit. Times are seconds on this process's monotonic clock from the start of ingest.
"""

from __future__ import annotations

import io
import random
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import stripe

from demo.story import Api, Narrator, Targets
from incytes_billing.models.catalog import load_catalog
from load.mix import MixSettings, Route, UsageItem, UsageRequest, usage_items, usage_requests
from local_stack.inbox import moto_data
from local_stack.stack import REGION
from stripe_emulator.client import EmulatorControl

METER_EVENTS_PATH = "/v1/billing/meter_events"
METER_EVENT_PREFIX = "incytes-usage-"  # + batch id: the reporter's meter event identifier
STRIPE_ID = re.compile(r"^[a-z]+(_[a-z]+)*_[A-Za-z0-9]{10,}$")  # in_1Abc…, sub_sched_1Abc…
WATCH_INTERVAL = 0.5  # seconds between two looks at Stripe's meter events
CLIENT_ATTEMPTS = 3  # inCytes retries a request the API answered 5xx (a throttled function) or not at all
SUBSCRIPTION_START_MARGIN = 1.5  # Stripe times have whole seconds: usage dated after the subscriptions began


@dataclass(frozen=True)
class LoadSettings:
    funders: int = 10
    records: int = 800
    concurrency: int = 4
    seed: int = 15
    ingest_seconds: float = 120.0  # no usage request starts after this; the audit covers what was sent
    stripe_429_seconds: float = 10.0  # Stripe refuses meter events this long, in the middle third; 0: never
    drain_seconds: float = 60.0  # wait at most this long for the reporter to catch up
    burst_seconds: float = 60.0  # and this long for the renewal day's webhooks
    single_share: float = 0.2  # of the records sent alone (POST /funders/{id}/usage)
    duplicate_share: float = 0.05


@dataclass
class Sent:
    """What the API answered for one distinct record."""

    item: UsageItem
    accepted: int = 0
    duplicate: int = 0
    started: float = 0.0  # the accepting request's start and answer
    answered: float = 0.0


@dataclass
class Phase:
    name: str
    started: float
    ended: float = 0.0


@dataclass
class Figures:
    """What the run measured; the report renders it, the audit judges it."""

    settings: LoadSettings
    funder_ids: list[str] = field(default_factory=list)
    customers: dict[str, str] = field(default_factory=dict)  # funder id -> Stripe customer
    subscriptions: dict[str, str] = field(default_factory=dict)  # funder id -> subscription id
    setup_seconds: float = 0.0
    sent: dict[str, Sent] = field(default_factory=dict)
    latencies: dict[Route, list[float]] = field(default_factory=lambda: defaultdict(list))
    request_counts: Counter[Route] = field(default_factory=Counter)
    request_records: Counter[Route] = field(default_factory=Counter)
    client_retries: int = 0
    unexpected: list[str] = field(default_factory=list)  # answers the contract does not give for this mix
    phases: list[Phase] = field(default_factory=list)
    ingest_seconds: float = 0.0
    reported_at: dict[str, float] = field(default_factory=dict)  # usage id -> when Stripe first had its event
    report_order: dict[str, int] = field(default_factory=dict)  # usage id -> its meter event's arrival position
    record_events: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # usage id -> ids
    backlog: list[tuple[float, int, int]] = field(default_factory=list)  # (time, accepted, reported)
    drained_at: float | None = None
    ingest_stripe_requests: Counter[str] = field(default_factory=Counter)
    ingest_stripe_429: int = 0
    finance_messages: dict[str, int] = field(default_factory=dict)  # phase -> messages published
    burst: dict[str, Any] = field(default_factory=dict)
    audit: list[tuple[str, bool, str]] = field(default_factory=list)

    def accepted(self) -> list[Sent]:
        return [sent for sent in self.sent.values() if sent.accepted]

    def phase(self, name: str) -> Phase | None:
        return next((phase for phase in self.phases if phase.name == name), None)


def endpoint(path: str) -> str:
    """`/v1/invoices/in_123/finalize` -> `/v1/invoices/{id}/finalize`: requests counted per endpoint."""
    return "/".join("{id}" if STRIPE_ID.match(part) else part for part in path.split("/"))


def finance_messages_published(aws_url: str) -> int:
    """Messages published to Finance's topic so far (moto keeps them per topic)."""
    topics = moto_data(aws_url).get("sns", {}).get("Topic", [])
    return sum(len(t.get("sent_notifications", [])) for t in topics if "FinanceTopic" in str(t.get("arn", "")))


class LoadRun:
    def __init__(self, targets: Targets, settings: LoadSettings, log: Callable[[str], None]) -> None:
        if targets.emulator_url is None:
            raise ValueError("the load run needs the Stripe emulator (its faults, clock and meter events)")
        self.targets = targets
        self.settings = settings
        self.log = log
        self.api = Api(targets.api_url, Narrator(io.StringIO()))
        self.emulator = EmulatorControl(targets.emulator_url, timeout=60)
        self.stripe = stripe.StripeClient(
            targets.stripe_api_key,
            base_addresses={"api": targets.emulator_url, "meter_events": targets.emulator_url},
            max_network_retries=2,
        )
        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=targets.aws_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's
        )
        names = [table.name for table in dynamodb.tables.all()]
        self.usage_table = dynamodb.Table(next(n for n in names if n.endswith("-UsageTable")))
        self.batches_table = dynamodb.Table(next(n for n in names if n.endswith("-UsageBatchesTable")))
        self.figures = Figures(settings)
        self.rng = random.Random(settings.seed)
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._batch_records: dict[str, list[str]] = {}  # meter event identifier -> usage ids

    def now(self) -> float:
        return time.monotonic() - self.started

    # setup -----------------------------------------------------------------------------------------------------
    def set_up_funders(self) -> None:
        began = time.monotonic()
        run = datetime.now(UTC).strftime("%H%M%S")
        funder_ids = [f"load-{run}-{number:04d}" for number in range(self.settings.funders)]
        messages_before = finance_messages_published(self.targets.aws_url)
        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            list(pool.map(self.subscribe, funder_ids))
        self.figures.funder_ids = funder_ids
        self.emulator.wait_for_deliveries(self.settings.burst_seconds)
        time.sleep(SUBSCRIPTION_START_MARGIN)
        self.figures.setup_seconds = time.monotonic() - began
        self.figures.finance_messages["setup"] = finance_messages_published(self.targets.aws_url) - messages_before

    def subscribe(self, funder_id: str) -> None:
        customer = self.stripe.v1.customers.create({"name": f"Load {funder_id}"})
        path = f"/funders/{funder_id}"
        self.api.expect("PUT", path, 200, {"name": f"Load {funder_id}", "stripe_customer_id": customer.id})
        created = self.api.expect("POST", f"{path}/subscription", 201, {}, Idempotency_Key=f"{funder_id}-click")
        with self._lock:
            self.figures.customers[funder_id] = customer.id
            self.figures.subscriptions[funder_id] = created["subscription_id"]

    # ingest ----------------------------------------------------------------------------------------------------
    def plan(self) -> list[UsageRequest]:
        batch_low, batch_high = 10, 50
        mean_batch = (batch_low + batch_high) / 2
        share = self.settings.single_share
        # A request is single with this chance, so that about `single_share` of the records go alone.
        single_chance = share / (share + (1 - share) / mean_batch) if share < 1 else 1.0
        mix = MixSettings(
            records=self.settings.records,
            single_share=single_chance,
            duplicate_share=self.settings.duplicate_share,
            batch_sizes=(batch_low, batch_high),
        )
        items = usage_items(self.rng, self.figures.funder_ids, mix)
        self.figures.sent = {item.usage_id: Sent(item) for item in items}
        return usage_requests(self.rng, items, mix)

    def ingest(self, requests: list[UsageRequest]) -> None:
        """Three thirds: Stripe answers normally, then refuses meter events with 429 (at least
        `stripe_429_seconds`), then answers again. Ingest never waits for Stripe."""
        self.warm_up()
        self.occurred_at = datetime.now(UTC).isoformat()
        self.emulator.clear_requests_log()
        messages_before = finance_messages_published(self.targets.aws_url)
        self.started = time.monotonic()
        deadline = self.started + self.settings.ingest_seconds
        watch = threading.Thread(target=self.watch, daemon=True)
        self._watching = True
        watch.start()
        third = -(-len(requests) // 3)
        faulted = self.settings.stripe_429_seconds > 0
        for index, name in enumerate(("before", "stripe_429" if faulted else "middle", "after")):
            phase = Phase(name, self.now())
            self.figures.phases.append(phase)
            if name == "stripe_429":
                self.emulator.inject_fault(METER_EVENTS_PATH, status=429, count=1_000_000)
            self.send_all(requests[index * third : (index + 1) * third], deadline)
            if name == "stripe_429":
                time.sleep(max(0.0, phase.started + self.settings.stripe_429_seconds - self.now()))
                self.emulator.clear_faults()
            phase.ended = self.now()
        self.figures.ingest_seconds = self.now()
        self.wait_for_drain()
        self._watching = False
        watch.join(timeout=30)
        self.look_at_meter_events()  # the last look, after the watch stopped
        log = self.emulator.requests_log()
        self.figures.ingest_stripe_requests = Counter(f"{r['method']} {endpoint(r['path'])}" for r in log)
        self.figures.ingest_stripe_429 = sum(1 for r in log if r["status"] == 429)
        self.figures.finance_messages["usage"] = finance_messages_published(self.targets.aws_url) - messages_before

    def warm_up(self) -> None:
        """One usage function instance per client, started before the clock runs (as a steady day finds them):
        the figures are of the service, not of its first cold starts."""
        paths = [f"/funders/{funder_id}/usage" for funder_id in self.figures.funder_ids]
        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            list(
                pool.map(
                    lambda path: self.api.call("GET", path),
                    (paths * self.settings.concurrency)[: 2 * self.settings.concurrency],
                )
            )

    def send_all(self, requests: list[UsageRequest], deadline: float) -> None:
        def send(request: UsageRequest) -> None:
            if time.monotonic() < deadline:
                self.send(request)

        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            list(pool.map(send, requests))

    def send(self, request: UsageRequest) -> None:
        if request.route == "single":
            item = request.items[0]
            path, body = f"/funders/{item.funder_id}/usage", item.body(self.occurred_at, with_funder=False)
        else:
            path = "/usage"
            body = {"records": [item.body(self.occurred_at, with_funder=True) for item in request.items]}
        started = self.now()
        for attempt in range(CLIENT_ATTEMPTS):
            answer = self.api.call("POST", path, body)
            if answer.status < 500:
                break
            with self._lock:
                self.figures.client_retries += 1
            time.sleep(0.2 * 2**attempt)
        answered = self.now()
        if request.route == "single":
            statuses = [str(answer.body.get("status")) if answer.status in (200, 202) else f"HTTP {answer.status}"]
        elif answer.status == 200:
            statuses = [str(result.get("status")) for result in answer.body["results"]]
        else:
            statuses = [f"HTTP {answer.status}"] * len(request.items)
        with self._lock:
            self.figures.latencies[request.route].append(answered - started)
            self.figures.request_counts[request.route] += 1
            self.figures.request_records[request.route] += len(request.items)
            for item, status in zip(request.items, statuses, strict=True):
                sent = self.figures.sent[item.usage_id]
                if status == "accepted":
                    sent.accepted += 1
                    sent.started, sent.answered = started, answered
                elif status == "duplicate":
                    sent.duplicate += 1
                else:
                    self.figures.unexpected.append(f"{request.route} {item.usage_id}: {status} {answer.body}")

    # the reporter, seen from Stripe ----------------------------------------------------------------------------
    def watch(self) -> None:
        while self._watching:
            self.look_at_meter_events()
            time.sleep(WATCH_INTERVAL)

    def look_at_meter_events(self) -> None:
        """Which records Stripe has counted, and since when: each meter event's identifier names our batch,
        whose record ids are in the UsageBatchesTable."""
        events = self.emulator.meter_events()
        seen_at = self.now()
        for position, event in enumerate(events):
            identifier = str(event.get("identifier") or "")
            if identifier in self._batch_records:
                continue
            records = self.batch_records(identifier)
            with self._lock:
                self._batch_records[identifier] = records
                for usage_id in (r for r in records if r in self.figures.sent):
                    self.figures.reported_at.setdefault(usage_id, seen_at)
                    self.figures.report_order.setdefault(usage_id, position)
                    self.figures.record_events[usage_id].append(identifier)
        with self._lock:
            accepted = sum(1 for sent in self.figures.sent.values() if sent.accepted)
            self.figures.backlog.append((seen_at, accepted, len(self.figures.reported_at)))

    def batch_records(self, identifier: str) -> list[str]:
        if not identifier.startswith(METER_EVENT_PREFIX):
            return []
        item = self.batches_table.get_item(Key={"batch_id": identifier.removeprefix(METER_EVENT_PREFIX)})
        record_ids: list[Any] = item.get("Item", {}).get("record_ids", [])  # type: ignore[assignment]
        return [str(usage_id) for usage_id in record_ids]

    def wait_for_drain(self) -> None:
        deadline = time.monotonic() + self.settings.drain_seconds
        while time.monotonic() < deadline:
            _, accepted, reported = self.figures.backlog[-1] if self.figures.backlog else (0, 1, 0)
            if reported >= accepted:
                self.figures.drained_at = self.now()
                return
            time.sleep(WATCH_INTERVAL)

    # renewal day -----------------------------------------------------------------------------------------------
    def renewal_day(self) -> None:
        """The emulator's clock moves to the end of every funder's period: Stripe makes their renewal invoices at
        once and sends their webhooks; measured until the product knows every renewal invoice."""
        starts, ends = [], []
        for subscription_id in self.figures.subscriptions.values():
            for item in self.stripe.v1.subscriptions.retrieve(subscription_id)["items"].data:
                starts.append(item.current_period_start)
                ends.append(item.current_period_end)
        self.period_start, self.period_end = min(starts), max(ends)
        known_events = {event["id"] for event in self.emulator.events()}
        known_deliveries = len(self.emulator.webhook_deliveries())
        messages_before = finance_messages_published(self.targets.aws_url)
        self.emulator.clear_requests_log()
        began = time.monotonic()
        self.emulator.set_clock(self.period_end + 60)
        clock_seconds = time.monotonic() - began
        idle = self.emulator.wait_for_deliveries(self.settings.burst_seconds)
        delivered_seconds = time.monotonic() - began
        renewals = [
            event["data"]["object"]["id"]
            for event in self.emulator.events()
            if event["id"] not in known_events
            and event["type"] == "invoice.created"
            and event["data"]["object"].get("billing_reason") == "subscription_cycle"
        ]
        unknown = set(renewals)
        deadline = began + self.settings.burst_seconds
        while unknown and time.monotonic() < deadline:
            unknown = {invoice for invoice in unknown if self.api.call("GET", f"/invoices/{invoice}").status != 200}
            if unknown:
                time.sleep(WATCH_INTERVAL)
        known_seconds = time.monotonic() - began
        deliveries = self.emulator.webhook_deliveries()[known_deliveries:]
        log = self.emulator.requests_log()
        self.figures.burst = {
            "renewal_invoices": len(renewals),
            "deliveries": len(deliveries),
            "delivery_types": Counter(str(d["type"]) for d in deliveries),
            "refused_deliveries": [d for d in deliveries if d["status"] != 200],
            "deliveries_idle": idle,
            "clock_seconds": clock_seconds,
            "delivered_seconds": delivered_seconds,
            "known_seconds": known_seconds,
            "unknown_invoices": sorted(unknown),
            "stripe_requests": Counter(f"{r['method']} {endpoint(r['path'])}" for r in log),
        }
        self.figures.finance_messages["renewal day"] = (
            finance_messages_published(self.targets.aws_url) - messages_before
        )

    # audit -----------------------------------------------------------------------------------------------------
    def audit(self) -> None:
        checks = self.figures.audit
        accepted = self.figures.accepted()
        sent = [s for s in self.figures.sent.values() if s.accepted or s.duplicate]
        twice = [s.item.usage_id for s in sent if s.accepted > 1]
        checks.append(
            (
                "each record accepted once",
                not twice and not self.figures.unexpected,
                f"{len(accepted)} accepted, {sum(s.duplicate for s in sent)} duplicates answered as such; "
                f"accepted twice: {twice[:5]}; other answers: {self.figures.unexpected[:3]}",
            )
        )
        ledger = {str(item["usage_id"]): item for item in scan(self.usage_table)}
        lost = [s.item.usage_id for s in accepted if s.item.usage_id not in ledger]
        not_reported = [
            s.item.usage_id for s in accepted if ledger.get(s.item.usage_id, {}).get("status") != "reported"
        ]
        checks.append(
            (
                "nothing lost: every accepted record is in the ledger, reported",
                not lost and not not_reported,
                f"missing from the ledger: {lost[:5]} ({len(lost)}); not reported: {not_reported[:5]} "
                f"({len(not_reported)}: {Counter(str(ledger.get(u, {}).get('status')) for u in not_reported)})",
            )
        )
        events = self.emulator.meter_events()
        identifiers = Counter(str(event.get("identifier")) for event in events)
        counted_twice = [identifier for identifier, count in identifiers.items() if count > 1]
        in_many = [u for u, ids in self.figures.record_events.items() if len(ids) > 1]
        in_none = [s.item.usage_id for s in accepted if s.item.usage_id not in self.figures.record_events]
        checks.append(
            (
                "each record in exactly one meter event at Stripe (nothing double-billed)",
                not counted_twice and not in_many and not in_none,
                f"{len(events)} meter events; identifiers counted twice: {counted_twice[:3]}; records in several "
                f"events: {in_many[:3]} ({len(in_many)}); in none: {in_none[:3]} ({len(in_none)})",
            )
        )
        checks.append(self.order_check())
        checks.append(self.totals_check(events))
        refused = self.figures.burst.get("refused_deliveries", [])
        unknown = self.figures.burst.get("unknown_invoices", [])
        checks.append(
            (
                "renewal day: every webhook answered 200, every renewal invoice known to the product",
                not refused and not unknown and bool(self.figures.burst.get("deliveries_idle")),
                f"{self.figures.burst.get('renewal_invoices')} renewal invoices; refused deliveries: "
                f"{[(d['type'], d['status']) for d in refused[:3]]}; unknown to the product: {unknown[:3]}",
            )
        )

    def order_check(self) -> tuple[str, bool, str]:
        """Per funder and kind: a record whose acceptance was answered before another's request began must
        not reach Stripe after it (Stripe's arrival order of the meter events holding them)."""
        groups: dict[tuple[str, str], list[Sent]] = defaultdict(list)
        for sent in self.figures.accepted():
            if sent.item.usage_id in self.figures.report_order:
                groups[(sent.item.funder_id, sent.item.kind)].append(sent)
        overtaken = []
        for records in groups.values():
            latest_start = float("-inf")  # the latest request start among records already at Stripe
            by_position: dict[int, list[Sent]] = defaultdict(list)
            for sent in records:
                by_position[self.figures.report_order[sent.item.usage_id]].append(sent)
            for position in sorted(by_position):
                batch = by_position[position]
                overtaken += [s.item.usage_id for s in batch if s.answered < latest_start]
                latest_start = max(latest_start, *(s.started for s in batch))
        return (
            "reported in order: no record overtaken by one accepted after it (per funder and kind)",
            not overtaken,
            f"overtaken: {overtaken[:5]} ({len(overtaken)})",
        )

    def totals_check(self, events: list[dict[str, Any]]) -> tuple[str, bool, str]:
        """Per funder and kind: what was accepted = our ledger's reported total (GET usage, nothing pending,
        failed or unbillable) = Stripe's meter events = Stripe's meter event summary of the period."""
        event_names = load_catalog().meter_event_names()
        meters = {meter.event_name: meter.id for meter in self.stripe.v1.billing.meters.list({"limit": 100}).data}
        expected: dict[tuple[str, str], int] = Counter()
        for sent in self.figures.accepted():
            expected[(sent.item.funder_id, sent.item.kind)] += sent.item.quantity
        at_stripe: dict[tuple[str, str], int] = Counter()
        funder_of = {customer: funder for funder, customer in self.figures.customers.items()}
        kind_of = {name: kind for kind, name in event_names.items()}
        for event in events:
            if event["customer"] in funder_of:
                at_stripe[(funder_of[event["customer"]], kind_of[event["event_name"]])] += int(event["value"])
        window = {"start_time": self.period_start // 60 * 60, "end_time": -(-self.period_end // 60) * 60}
        differences = []
        for funder_id in self.figures.funder_ids:
            totals = self.api.expect("GET", f"/funders/{funder_id}/usage", 200)["totals"]
            for kind, event_name in event_names.items():
                summaries = self.stripe.v1.billing.meters.event_summaries.list(
                    meters[event_name],
                    {"customer": self.figures.customers[funder_id], **window},  # type: ignore[typeddict-item]
                )
                summary = int(sum(s.aggregated_value for s in summaries.data))
                ours = totals[kind]
                want = expected[(funder_id, kind)]
                seen = (ours["recorded"], ours["reported"], at_stripe[(funder_id, kind)], summary)
                if seen != (want,) * 4 or ours["pending"] or ours["failed"] or ours["unbillable"]:
                    differences.append(
                        f"{funder_id} {kind}: accepted {want}, (recorded, reported, events, summary) {seen}, {ours}"
                    )
        return (
            "totals: accepted = recorded = reported = Stripe's meter events = Stripe's meter summary",
            not differences,
            f"{len(self.figures.funder_ids)} funders x {len(event_names)} kinds compared; differences: "
            f"{differences[:3]} ({len(differences)})",
        )


def scan(table: Any) -> Iterable[dict[str, Any]]:
    arguments: dict[str, Any] = {}
    while True:
        page = table.scan(**arguments)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
