"""The alarms on our own metrics watch names the code emits (issue 12 §4): a renamed metric would leave its alarm
silent forever, and CloudWatch never says so. The names live in `incytes_billing.metric_names`; this test holds
template.yaml's alarms to that module and the module to the `add_metric` calls in the product code (read as
source, so no handler needs importing)."""

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


def module_constants(tree: ast.Module) -> dict[str, str]:
    """The module-level string constants of a source file, and the names it imports from `metric_names`."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.update({target.id: node.value.value for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.ImportFrom) and node.module == metric_names.__name__:
            found.update({alias.asname or alias.name: getattr(metric_names, alias.name) for alias in node.names})
    return found


def emitted_names() -> Iterator[tuple[Path, str, bool]]:
    """(file, name, is_prefix) for every `add_metric(name=...)` in the product code: a literal or a constant is a
    whole name; an f-string gives the literal text before its first placeholder, a prefix."""
    for root in PRODUCT_CODE:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            constants = module_constants(tree)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric"):
                    continue
                (name,) = [keyword.value for keyword in node.keywords if keyword.arg == "name"]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    yield path, name.value, False
                elif isinstance(name, ast.Name) and name.id in constants:
                    yield path, constants[name.id], False
                elif isinstance(name, ast.JoinedStr) and isinstance(name.values[0], ast.Constant):
                    yield path, str(name.values[0].value), True


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
    emitters = [path for path, emitted, is_prefix in emitted_names() if emitted == name and not is_prefix]
    assert emitters, f"no add_metric(name={name!r}) in the product code"


def test_the_webhook_emits_its_rejected_signature_metric() -> None:
    """`WebhookRejected_{error.code}` in the webhook handler, and the verifier refuses a bad signature with
    InvalidSignature, whose code completes the alarmed name (metric_names builds it from that code)."""
    webhook = PROJECT_ROOT / "functions" / "webhook" / "app.py"
    assert (webhook, metric_names.WEBHOOK_REJECTED_PREFIX, True) in set(emitted_names())
    verifier = PROJECT_ROOT / "layers" / "shared" / "incytes_billing" / "adapters" / "stripe_webhooks.py"
    assert "raise InvalidSignature(" in verifier.read_text()
