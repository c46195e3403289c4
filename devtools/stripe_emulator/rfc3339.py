"""Times as API v2 writes them: RFC 3339 strings in UTC with milliseconds (``2024-06-01T12:00:00.000Z``).

API v2 objects carry timestamps as strings, not unix integers
(https://docs.stripe.com/api-v2-overview, e.g. https://docs.stripe.com/api/v2/billing-meter/object).
"""

from __future__ import annotations

from datetime import UTC, datetime


class TimeFormatError(ValueError):
    pass


def format_time(timestamp: float) -> str:
    """``1717243200.5`` -> ``"2024-06-01T12:00:00.500Z"``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float:
    """An RFC 3339 date-time with an offset (``Z`` or ``+02:00``) -> unix seconds.

    A time without an offset is ambiguous and refused, as is anything that is not a date-time.
    """
    if "T" not in text.upper():
        raise TimeFormatError(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeFormatError(text) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TimeFormatError(text)
    return moment.timestamp()
