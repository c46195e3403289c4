"""template.yaml's production hardening (issue 11 §2 floods, §4 alarms, §5 data), asserted from the template itself.

The tests iterate over the template's resources: a function, table, queue or schedule added later without its
protections fails here, by name.
"""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.template import (
    StackResources,
    _resolver,
)
from tests.support import template

TEMPLATE = template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r for logical_id, r in RESOURCES.items() if r["Type"] == resource_type}


def evaluate(expression: Any, **overrides: str) -> Any:
    """A template expression (a condition, a Rule's assertion) resolved as CloudFormation would, for these
    parameter values (the others at their defaults)."""
    return _resolver(TEMPLATE, StackResources(), overrides).resolve(expression)


# -- §5 data survives mistakes ---------------------------------------------------------------------------------


def test_every_table_has_point_in_time_recovery_retain_and_deletion_protection() -> None:
    tables = of_type("AWS::DynamoDB::Table")
    assert {"NotificationsTable", "IdempotencyTable"} <= set(tables)
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert (table.get("DeletionPolicy"), table.get("UpdateReplacePolicy")) == ("Retain", "Retain"), logical_id
        assert properties.get("PointInTimeRecoverySpecification") == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert properties.get("DeletionProtectionEnabled") == {"Fn::If": ["ProtectTables", True, False]}, logical_id


@pytest.mark.parametrize(
    ("overrides", "protected"),
    [
        ({}, False),
        ({"Stage": "prod"}, True),
        ({"Stage": "dev", "TableDeletionProtection": "true"}, True),
        ({"Stage": "prod", "TableDeletionProtection": "false"}, False),
    ],
)
def test_deletion_protection_follows_the_stage_unless_set(overrides: dict[str, str], protected: bool) -> None:
    for logical_id, table in of_type("AWS::DynamoDB::Table").items():
        assert evaluate(table["Properties"]["DeletionProtectionEnabled"], **overrides) is protected, logical_id


def test_every_queue_is_retained() -> None:
    queues = of_type("AWS::SQS::Queue")
    assert {"StripeEventsQueue", "StripeEventsDeadLetterQueue", "UsageReporterDeadLetterQueue"} <= set(queues)
    for logical_id, queue in queues.items():
        assert (queue.get("DeletionPolicy"), queue.get("UpdateReplacePolicy")) == ("Retain", "Retain"), logical_id
