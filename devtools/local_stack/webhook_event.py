"""`python -m local_stack.webhook_event IN OUT` (`make webhook-event`): re-sign a webhook sample event.

A stored signature expires after 300 s, so `sam local invoke -e events/webhook/...` needs a fresh one: this
signs the event's body now with STRIPE_WEBHOOK_SECRET (default whsec_local) and writes the result.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from stripe_emulator.signing import signature_header


def signed(event: dict[str, Any], secret: str, timestamp: int | None = None) -> dict[str, Any]:
    body = event["body"]
    header = signature_header(body, secret, timestamp=timestamp)
    headers = {key: value for key, value in (event.get("headers") or {}).items() if key.lower() != "stripe-signature"}
    multi = {
        key: value for key, value in (event.get("multiValueHeaders") or {}).items() if key.lower() != "stripe-signature"
    }
    return {
        **event,
        "headers": {**headers, "Stripe-Signature": header},
        "multiValueHeaders": {**multi, "Stripe-Signature": [header]},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m local_stack.webhook_event IN_EVENT OUT_EVENT", file=sys.stderr)
        return 2
    source, target = Path(args[0]), Path(args[1])
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or "whsec_local"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(signed(json.loads(source.read_text()), secret), indent=2) + "\n")
    print(f"{target}: signed now, valid for 300 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
