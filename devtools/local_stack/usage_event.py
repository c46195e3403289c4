"""`python -m local_stack.usage_event IN OUT` (`make usage-event`): a usage sample event dated now.

Stripe takes meter events from the past 35 days only, and the API refuses usage outside that window
(422 `usage_out_of_window`), so the stored samples' fixed `occurred_at` goes stale: this sets it (in the
single record, or in every record of a batch) to now and writes the result for `make invoke`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def dated_now(event: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    moment = (now or datetime.now(UTC)).isoformat()
    body = json.loads(event["body"])
    for usage in body.get("records", [body]):
        usage["occurred_at"] = moment
    return {**event, "body": json.dumps(body)}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m local_stack.usage_event IN_EVENT OUT_EVENT", file=sys.stderr)
        return 2
    source, target = Path(args[0]), Path(args[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(dated_now(json.loads(source.read_text())), indent=2) + "\n")
    print(f"{target}: occurred_at set to now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
