"""The scheduled reconciler: the usage ledger against Stripe's meter summaries, and Stripe events that never
reached our webhook replayed into the same pipeline (stored, then processed, duplicates harmless)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incytes_billing.domain.events import EventProcessor
from incytes_billing.domain.webhooks import WebhookIngress
from incytes_billing.models.catalog import CatalogConfig
from incytes_billing.models.events import FinanceNotice, VerifiedEvent
from incytes_billing.models.usage import utc_text
from incytes_billing.ports import FunderRepository, MeterSummaryGateway, UndeliveredEvents, UsageRepository

# Stripe aggregates meter events asynchronously: usage newer than this is not compared yet.
SUMMARY_LAG_SECONDS = 15 * 60
REPLAY_WINDOW_SECONDS = 3 * 24 * 3600  # Stripe retries a delivery for up to 3 days


@dataclass
class ReconciliationReport:
    compared: int = 0
    discrepancies: list[dict[str, object]] = field(default_factory=list)
    replayed: int = 0


class Reconciler:
    def __init__(
        self,
        *,
        usage: UsageRepository,
        funders: FunderRepository,
        meters: MeterSummaryGateway,
        undelivered: UndeliveredEvents,
        ingress: WebhookIngress,
        finance: EventProcessor,
        catalog: CatalogConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._usage = usage
        self._funders = funders
        self._meters = meters
        self._undelivered = undelivered
        self._ingress = ingress
        self._finance = finance
        self._event_names = catalog.meter_event_names()
        self._clock = clock

    def run(self, funder_ids: list[str]) -> ReconciliationReport:
        report = ReconciliationReport()
        for funder_id in funder_ids:
            self.compare_funder(funder_id, report)
        report.replayed = self.replay_undelivered()
        return report

    def compare_funder(self, funder_id: str, report: ReconciliationReport) -> None:
        funder = self._funders.get(funder_id)
        subscription = funder.subscription if funder is not None else None
        if funder is None or funder.stripe_customer_id is None or subscription is None:
            return
        if subscription.current_period_start is None:
            return
        now = int(self._clock().timestamp())
        start = subscription.current_period_start // 60 * 60  # summaries need minute-aligned bounds
        end = (now - SUMMARY_LAG_SECONDS) // 60 * 60
        if end <= start:
            return
        records = self._usage.between(funder_id, _text(start), _text(end))
        for kind, event_name in sorted(self._event_names.items()):
            ledger = sum(r.quantity for r in records if r.kind == kind and r.status == "reported")
            stripe = self._meters.meter_total(event_name, funder.stripe_customer_id, start, end)
            report.compared += 1
            if ledger != stripe:
                found = {
                    "funder_id": funder_id,
                    "kind": kind,
                    "ledger": ledger,
                    "stripe": stripe,
                    "from": start,
                    "to": end,
                }
                report.discrepancies.append(found)
                self._finance.notify(
                    FinanceNotice(
                        key=f"usage-discrepancy#{funder_id}#{kind}#{start}#{ledger}#{stripe}",
                        event_type="usage.discrepancy",
                        subject=f"Usage mismatch: {funder.name[:60]} ({kind})",
                        text=(
                            f"For {funder.name} (funder {funder_id}), {kind} usage reported from {_text(start)} to "
                            f"{_text(end)} is {ledger} in our ledger but {stripe} in Stripe's meter summaries."
                        ),
                        data={"type": "usage.discrepancy", **found},
                    )
                )

    def replay_undelivered(self) -> int:
        since = int(self._clock().timestamp()) - REPLAY_WINDOW_SECONDS
        replayed = 0
        for snapshot_payload in self._undelivered.undelivered_events(since=since):
            payload = snapshot_payload
            body = json.loads(payload)
            # events.list renders an old event in the API version of its creation: replay the object as
            # Stripe has it now (our pinned version); keep the snapshot when it cannot be re-fetched.
            snapshot = body["data"]["object"]
            if snapshot.get("object") and snapshot.get("id"):
                current = self._undelivered.current_object(str(snapshot["object"]), str(snapshot["id"]))
                if current is not None:
                    body["data"]["object"] = current
                    payload = json.dumps(body)
            event = VerifiedEvent(
                event_id=body["id"],
                type=body["type"],
                created=int(body["created"]),
                kind="snapshot",
                livemode=bool(body.get("livemode", False)),
                api_version=body.get("api_version"),
                payload=payload,
            )
            if self._ingress.accept(event) == "stored":
                replayed += 1
        return replayed


def _text(epoch: int) -> str:
    return utc_text(datetime.fromtimestamp(epoch, UTC))
