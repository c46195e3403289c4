"""Value types shared by several models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

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
