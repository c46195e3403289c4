"""`Type: Schedule` events, played locally: each scheduled function runs at start and then every
LOCAL_SCHEDULE_SECONDS (default 300), whatever its cron, so that a demo sees it work."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from local_stack.template.functions import function_ids, function_properties
from local_stack.workers import PollingWorker


def scheduled_event(rule_name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "local",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{rule_name}"],
        "detail": {},
    }


def schedule_workers(context: Any) -> list[PollingWorker]:
    interval = float(os.environ.get("LOCAL_SCHEDULE_SECONDS", "300"))
    workers = []
    for function_id in function_ids(context.template):
        for event_id, event in (function_properties(context.template, function_id).get("Events") or {}).items():
            if event.get("Type") != "Schedule":
                continue

            # EventBridge sends a rule's Input, when it has one, instead of the scheduled event.
            constant = event.get("Properties", {}).get("Input")

            def run(
                function_id: str = function_id, rule: str = f"{function_id}{event_id}", constant: Any = constant
            ) -> bool:
                payload = json.loads(constant) if constant else scheduled_event(rule, context.runner.region)
                context.runner.invoke(function_id, payload)
                return False  # then wait the interval

            workers.append(PollingWorker(f"schedule:{function_id}", run, interval=interval))
    return workers
