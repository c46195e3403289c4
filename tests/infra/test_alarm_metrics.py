"""The alarms on our own metrics watch names the code emits (issue 12 §4): a renamed metric would leave its alarm
silent forever, and CloudWatch never says so. The names live in `incytes_billing.metric_names`; this test holds
template.yaml's alarms to that module and the module to the `add_metric` calls in the product code, which name
them by its constants (read as source, so no handler needs importing)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from incytes_billing import metric_names
from tests.support import PROJECT_ROOT, template

PRODUCT_CODE = (PROJECT_ROOT / "functions", PROJECT_ROOT / "layers" / "shared" / "incytes_billing")


def globals_environment() -> dict[str, Any]:
    variables: dict[str, Any] = template()["Globals"]["Function"]["Environment"]["Variables"]
    return variables


NAMESPACE = globals_environment()["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = globals_environment()["POWERTOOLS_SERVICE_NAME"]


def watched_metrics() -> Iterator[tuple[str, dict[str, Any]]]:
    """(alarm id, metric) for every metric an alarm watches on our namespace, also inside metric math."""
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        metrics = [properties] + [
            query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query
        ]
        for metric in metrics:
            if metric.get("Namespace") == NAMESPACE:
                yield logical_id, metric


def module_constants(tree: ast.Module) -> dict[str, tuple[str, bool]]:
    """The module-level string constants of a source file and the names it imports from `metric_names`, each with
    whether it comes from `metric_names`."""
    found: dict[str, tuple[str, bool]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            text = node.value.value
            found.update({target.id: (text, False) for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.ImportFrom) and node.module == metric_names.__name__:
            for alias in node.names:
                found[alias.asname or alias.name] = (getattr(metric_names, alias.name), True)
    return found


def resolve_name(name: ast.expr, constants: dict[str, tuple[str, bool]]) -> tuple[str, bool] | None:
    """(text, from metric_names) of a literal or a constant; None for anything else."""
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value, False
    if isinstance(name, ast.Name) and name.id in constants:
        return constants[name.id]
    return None


def emitted_names() -> Iterator[tuple[Path, str, bool, bool]]:
    """(file, name, is_prefix, from metric_names) for every `add_metric(name=...)` in the product code: a literal or
    a constant is a whole name; an f-string gives what comes before its first placeholder, a prefix."""
    for root in PRODUCT_CODE:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            constants = module_constants(tree)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric"):
                    continue
                (name,) = [keyword.value for keyword in node.keywords if keyword.arg == "name"]
                is_prefix = isinstance(name, ast.JoinedStr)
                if isinstance(name, ast.JoinedStr):
                    first = name.values[0]
                    name = first.value if isinstance(first, ast.FormattedValue) else first
                resolved = resolve_name(name, constants)
                if resolved is not None:
                    yield path, resolved[0], is_prefix, resolved[1]


def test_every_alarm_on_our_namespace_watches_a_named_metric_of_our_service() -> None:
    watched = list(watched_metrics())
    assert len(watched) >= len(metric_names.ALARMED)
    for logical_id, metric in watched:
        assert metric["MetricName"] in metric_names.ALARMED, f"{logical_id}: {metric['MetricName']} not in metric_names"
        # Powertools publishes every metric with the `service` dimension alone: any other set matches nothing.
        assert metric["Dimensions"] == [{"Name": "service", "Value": SERVICE}], logical_id


def test_every_named_metric_has_an_alarm() -> None:
    assert {metric["MetricName"] for _, metric in watched_metrics()} == metric_names.ALARMED


@pytest.mark.parametrize("name", sorted(metric_names.ALARMED - {metric_names.WEBHOOK_REJECTED_INVALID_SIGNATURE}))
def test_the_code_emits_each_alarmed_metric(name: str) -> None:
    emitters = [path for path, emitted, is_prefix, _ in emitted_names() if emitted == name and not is_prefix]
    assert emitters, f"no add_metric(name={name!r}) in the product code"


def test_the_code_names_alarmed_metrics_by_their_constants() -> None:
    """A name spelled out beside metric_names would not follow a rename there, and its alarm would fall silent."""
    alarmed = metric_names.ALARMED | {metric_names.WEBHOOK_REJECTED_PREFIX}
    spelled_out = [
        (str(path.relative_to(PROJECT_ROOT)), name)
        for path, name, _, from_metric_names in emitted_names()
        if name in alarmed and not from_metric_names
    ]
    assert not spelled_out, "import these names from incytes_billing.metric_names"


def test_the_webhook_emits_its_rejected_signature_metric() -> None:
    """`WebhookRejected_{error.code}` in the webhook handler, and the verifier refuses a bad signature with
    InvalidSignature, whose code completes the alarmed name (metric_names builds it from that code)."""
    webhook = PROJECT_ROOT / "functions" / "webhook" / "app.py"
    assert (webhook, metric_names.WEBHOOK_REJECTED_PREFIX, True, True) in set(emitted_names())
    verifier = PROJECT_ROOT / "layers" / "shared" / "incytes_billing" / "adapters" / "stripe_webhooks.py"
    assert "raise InvalidSignature(" in verifier.read_text()
