"""events/ holds a sample for every trigger of every template function, and a test uses each sample.

`sam local invoke <Function> -e events/<folder>/<file>.json`: a function's samples live in the folder named like
its CodeUri (functions/usage → events/usage): one per API route (its `httpMethod` and `resource`), one per
queue or stream (`Records` of that `eventSource`), one per schedule — its `Input` when the rule has one
(EventBridge then sends that instead of the scheduled event), else the scheduled event itself, which the
functions share in events/schedule. A function or route added without its sample fails here, by name; so does
a sample no test loads.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local_stack.template.document import Template
from local_stack.template.functions import function_ids, function_properties
from tests.support import EVENTS_DIR, PROJECT_ROOT, template

SHARED_SCHEDULE_FOLDER = "schedule"
RECORD_SOURCES = {"SQS": "aws:sqs", "DynamoDB": "aws:dynamodb"}

Samples = Mapping[str, Any]  # path under events/ -> the parsed sample


def read_samples(events_dir: Path = EVENTS_DIR) -> dict[str, Any]:
    return {
        path.relative_to(events_dir).as_posix(): json.loads(path.read_text()) for path in events_dir.rglob("*.json")
    }


def _in_folder(samples: Samples, folder: str) -> list[Any]:
    return [sample for path, sample in samples.items() if path.startswith(f"{folder}/")]


def _is_scheduled_event(sample: Any) -> bool:
    return isinstance(sample, dict) and (sample.get("source"), sample.get("detail-type")) == (
        "aws.events",
        "Scheduled Event",
    )


def _record_source(sample: Any) -> str | None:
    records = sample.get("Records") if isinstance(sample, dict) else None
    return str(records[0].get("eventSource")) if records else None


def _matcher(trigger: Mapping[str, Any]) -> tuple[str, Callable[[Any], bool]] | None:
    """What the trigger's sample is (for the failure message) and how to recognise it; None: no rule yet."""
    kind, properties = trigger.get("Type"), trigger.get("Properties") or {}
    if kind == "Api":
        method, resource = str(properties["Method"]).upper(), properties["Path"]
        return f"{method} {resource}", lambda s: (s.get("httpMethod"), s.get("resource")) == (method, resource)
    if kind in RECORD_SOURCES:
        return f"{kind} records", lambda s: _record_source(s) == RECORD_SOURCES[str(kind)]
    if kind == "Schedule" and properties.get("Input"):
        constant = json.loads(properties["Input"])
        return f"schedule input {properties['Input']}", lambda s: s == constant
    if kind == "Schedule":
        return "scheduled event", _is_scheduled_event
    return None


def missing_samples(document: Template, samples: Samples) -> list[str]:
    """`Function.Trigger (what): events/<folder>/` for each trigger without a sample in its function's folder."""
    missing = []
    for logical_id in function_ids(document):
        properties = function_properties(document, logical_id)
        folder = Path(str(properties.get("CodeUri", ""))).name
        for name, trigger in (properties.get("Events") or {}).items():
            rule = _matcher(trigger)
            if rule is None:
                missing.append(f"{logical_id}.{name} ({trigger.get('Type')}: no rule for its samples here)")
                continue
            what, matches = rule
            candidates = _in_folder(samples, folder)
            if what == "scheduled event":
                candidates += _in_folder(samples, SHARED_SCHEDULE_FOLDER)
            if not any(matches(sample) for sample in candidates):
                missing.append(f"{logical_id}.{name} ({what}): events/{folder}/")
    return missing


def unused_samples(samples: Samples, test_sources: list[str]) -> list[str]:
    """Samples no test names: by their path under events/, or by their quoted file name (a helper's argument,
    `webhook("thin_meter_error.json")`) when no other sample has that name."""
    names = [Path(path).name for path in samples]
    unused = []
    for path in sorted(samples):
        name = Path(path).name
        spellings = [path] + ([f'"{name}"'] if names.count(name) == 1 else [])
        if not any(spelling in source for source in test_sources for spelling in spellings):
            unused.append(path)
    return unused


def read_test_sources() -> list[str]:
    here = Path(__file__).resolve()
    return [path.read_text() for path in (PROJECT_ROOT / "tests").rglob("*.py") if path.resolve() != here]


def test_every_trigger_of_every_function_has_a_sample() -> None:
    assert missing_samples(template(), read_samples()) == []


def test_every_sample_is_used_by_a_test() -> None:
    assert unused_samples(read_samples(), read_test_sources()) == []


def test_a_function_or_route_without_a_sample_is_named() -> None:
    document = template()
    invoices = copy.deepcopy(document["Resources"]["InvoicesFunction"])
    invoices["Properties"]["CodeUri"] = "functions/refunds"
    document["Resources"]["RefundsFunction"] = invoices
    document["Resources"]["InvoicesFunction"]["Properties"]["Events"]["Refund"] = {
        "Type": "Api",
        "Properties": {"Path": "/invoices/{invoice_id}/refund", "Method": "post"},
    }

    missing = missing_samples(document, read_samples())

    assert "InvoicesFunction.Refund (POST /invoices/{invoice_id}/refund): events/invoices/" in missing
    assert "RefundsFunction.ListInvoices (GET /invoices): events/refunds/" in missing


def test_a_sample_no_test_names_is_reported() -> None:
    samples: dict[str, Any] = {
        "invoices/list.json": {},
        "invoices/old.json": {},
        "webhook/thin.json": {},
        "usage/thin.json": {},
    }
    sources = ['load_event("invoices/list.json")', 'webhook("thin.json")']

    assert unused_samples(samples, sources) == ["invoices/old.json", "usage/thin.json", "webhook/thin.json"]
