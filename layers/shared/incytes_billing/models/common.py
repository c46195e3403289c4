"""Value types shared by several models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Currency = Literal["usd", "eur"]
DEFAULT_CURRENCY: Currency = "usd"
SUPPORTED_CURRENCIES: dict[str, Currency] = {"usd": "usd", "eur": "eur"}

FUNDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"

MAX_SEATS = 100_000
Seats = Annotated[int, Field(ge=1, le=MAX_SEATS)]
