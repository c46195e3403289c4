"""Helpers shared by the test suites (imported as `tests.support`)."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.models.usage import MeterBatch
from local_stack.template.document import Template, load_template
from local_stack.template.intrinsics import StackResources, resolver_for
from tests.fakes import subscribed_funder

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
EVENTS_DIR = PROJECT_ROOT / "events"
EMULATOR_API_KEY = "sk_test_emulator"
# The webhook endpoint's signing secrets in tests: the current one, then one being rotated out.
WEBHOOK_SECRETS = ("whsec_test_current", "whsec_test_previous")

# invoke(function_logical_id, event) -> the handler's result, as `sam local invoke` would print it.
Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


@cache
def _template() -> Template:
    return load_template(TEMPLATE_PATH)


def template() -> Template:
    return copy.deepcopy(_template())


def conditional_items(
    template: Template, items: list[Any], parameter_overrides: Mapping[str, Any] | None = None
) -> list[Any]:
    """A template list whose items may be `!If [Condition, item, !Ref AWS::NoValue]`: the items it has for these
    parameter values (the others at their defaults), other intrinsics left unresolved."""
    resolver = resolver_for(template, StackResources(), parameter_overrides)
    kept = []
    for item in items:
        chosen = item
        while isinstance(chosen, dict) and set(chosen) == {"Fn::If"}:
            condition, if_true, if_false = chosen["Fn::If"]
            chosen = if_true if resolver.condition(condition) else if_false
        if chosen != {"Ref": "AWS::NoValue"}:
            kept.append(chosen)
    return kept


def load_event(relative_path: str) -> dict[str, Any]:
    """A fresh copy of an `events/` file, exactly as `sam local invoke -e` would read it."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / relative_path).read_text())
    return event


def usage_ready_funders(
    funders_table: Any, client: Any, count: int, *, started: datetime, prefix: str = "f"
) -> dict[str, str]:
    """Funders {prefix}0..{prefix}{count-1}, each with a new Stripe customer and a subscription record (period
    from `started`, 30 days) as the reporter needs it, written to the table; answers funder -> customer."""
    repository = DynamoDBFunderRepository(funders_table)
    start = int(started.timestamp())
    customers = {}
    for n in range(count):
        funder_id = f"{prefix}{n}"
        customers[funder_id] = str(client.v1.customers.create({"name": f"Funder {n}"}).id)
        funder = subscribed_funder(
            funder_id,
            customers[funder_id],
            subscription_id=f"sub_{n}",
            period_start=start,
            subscribed_at=start,
            name=f"Funder {n}",
            created_at=started,
            updated_at=started,
        )
        repository.save(funder, expected_version=None)
    return customers


def settled_batch(
    batch_id: str, kind: str, value: int, timestamp: int, *, customer_id: str, sent_at: int | None = None
) -> MeterBatch:
    """A meter batch of funder f1 (one record, named like the batch) that Stripe took and the reporter settled."""
    sent = timestamp if sent_at is None else sent_at
    return MeterBatch(
        batch_id=batch_id,
        funder_id="f1",
        kind=kind,
        customer_id=customer_id,
        event_name=f"incytes_{kind}",
        value=value,
        timestamp=timestamp,
        record_ids=[batch_id],
        identifier=f"incytes-usage-{batch_id}",
        created_at=sent,
        status="settled",
        outcome="delivered",
        sent_at=sent,
    )


METER_ERROR_REPORT = "v1.billing.meter.error_report_triggered"


def meter_error_reports(client: Any, emulator: Any) -> list[dict[str, Any]]:
    """The emulator's meter error reports (thin events, with data), once it has validated what is queued."""
    client.v1.customers.list()  # the emulator validates queued meter events on its next request
    return [event for event in emulator.thin_events() if event["type"] == METER_ERROR_REPORT]


def invoice_with_lines(client: Any, customer_id: str, count: int, **subscription: Any) -> str:
    """The id of the first invoice of a new subscription of `customer_id` with `count` items (one line each), at
    100 + n cents a month (a new product's prices: a subscription takes each price once)."""
    product = client.v1.products.create({"name": "Training module"})
    prices = [
        client.v1.prices.create(
            {"product": product.id, "currency": "usd", "unit_amount": 100 + n, "recurring": {"interval": "month"}}
        )
        for n in range(count)
    ]
    created = client.v1.subscriptions.create(
        {
            "customer": customer_id,
            "items": [{"price": price.id, "quantity": 2} for price in prices],
            "collection_method": "send_invoice",
            "days_until_due": 30,
            **subscription,
        }
    )
    return str(created.latest_invoice)


def call_json(method: str, url: str, payload: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
    """An HTTP call with a JSON body (or `raw` bytes) to a running stack: the status and the parsed JSON answer."""
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
