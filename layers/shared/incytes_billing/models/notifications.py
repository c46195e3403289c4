"""Claims that make each Finance notification go out once in normal operation and at least once after a crash."""

from __future__ import annotations

from typing import Literal

ClaimOutcome = Literal["claimed", "published", "in_flight"]
