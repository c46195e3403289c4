"""Value types shared by several models."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field
from pydantic_core import PydanticCustomError

Currency = Literal["usd", "eur"]
DEFAULT_CURRENCY: Currency = "usd"
SUPPORTED_CURRENCIES: dict[str, Currency] = {"usd": "usd", "eur": "eur"}

# A first invoice's review by Finance. pending: held as a draft for Finance; approved: finalized by Finance (here
# or in the Dashboard); missed: finalized before anyone reviewed it (Stripe finalized it, or it could not be held
# in time); canceled: voided unreviewed because its subscription was canceled; not_required: no review (not a
# first invoice).
ReviewStatus = Literal["pending", "approved", "missed", "canceled", "not_required"]

FUNDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"

MAX_SEATS = 100_000
Seats = Annotated[int, Field(ge=1, le=MAX_SEATS)]

# RFC 3339 date-time (section 5.6; its note allows a space for the T). pydantic's datetime alone also takes
# unix seconds (1795608000 or "1795608000"), which the contract does not.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_text(value: Any) -> Any:
    """Let through RFC 3339 text (and datetimes built in code); refuse numbers and other date formats."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise PydanticCustomError(
        "rfc3339_datetime", "Input should be an RFC 3339 date-time with an offset, e.g. 2026-12-01T12:00:00Z"
    )


Rfc3339Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
