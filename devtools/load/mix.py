"""The load's requests, drawn from a seeded RNG: the same seed and sizes give the same requests in the same order.

Each usage record goes to one funder, `case` or `sms` with a small quantity; a share of them is sent a second time
(identical, as inCytes retries), through either route. Records travel alone (`POST /funders/{id}/usage`) or in
batches of several funders (`POST /usage`, at most 100 records a request).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

Route = Literal["single", "batch"]
ROUTE_PATHS: dict[Route, str] = {"single": "POST /funders/{id}/usage", "batch": "POST /usage"}
MAX_BATCH_RECORDS = 100  # the contract's limit for POST /usage


@dataclass(frozen=True)
class UsageItem:
    funder_id: str
    usage_id: str
    kind: str
    quantity: int

    def body(self, occurred_at: str, *, with_funder: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "usage_id": self.usage_id,
            "kind": self.kind,
            "quantity": self.quantity,
            "occurred_at": occurred_at,
        }
        return {"funder_id": self.funder_id, **body} if with_funder else body


@dataclass(frozen=True)
class UsageRequest:
    route: Route
    items: tuple[UsageItem, ...]


@dataclass(frozen=True)
class MixSettings:
    records: int  # distinct usage records
    single_share: float = 0.3  # of the records sent through the single route
    duplicate_share: float = 0.05  # of the records sent twice
    batch_sizes: tuple[int, int] = (10, 50)  # records per POST /usage, drawn uniformly
    sms_share: float = 0.7


def usage_items(rng: random.Random, funder_ids: list[str], settings: MixSettings) -> list[UsageItem]:
    items = []
    for number in range(settings.records):
        funder_id = rng.choice(funder_ids)
        if rng.random() < settings.sms_share:
            kind, quantity = "sms", rng.randint(1, 5)
        else:
            kind, quantity = "case", rng.randint(1, 3)
        items.append(UsageItem(funder_id, f"load-{number:06d}", kind, quantity))
    return items


def usage_requests(rng: random.Random, items: list[UsageItem], settings: MixSettings) -> list[UsageRequest]:
    """Every item once, plus the duplicates, shuffled, then cut into single and batch requests."""
    sent = items + rng.sample(items, round(len(items) * settings.duplicate_share))
    rng.shuffle(sent)
    low, high = settings.batch_sizes
    requests: list[UsageRequest] = []
    position = 0
    while position < len(sent):
        if rng.random() < settings.single_share:
            requests.append(UsageRequest("single", (sent[position],)))
            position += 1
            continue
        size = min(rng.randint(low, high), MAX_BATCH_RECORDS)
        requests.append(UsageRequest("batch", tuple(sent[position : position + size])))
        position += size
    return requests
