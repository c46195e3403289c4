"""Path parameters shared by the API routes (docs/contract.md)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from incytes_billing.models.common import FUNDER_ID_PATTERN

FunderId = Annotated[str, Path(pattern=FUNDER_ID_PATTERN, description="inCytes funder id (1-128 characters)")]
