"""The limits docs/contract.md states for what callers send: names, identifiers, times (issue 13 §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from incytes_billing.models.funder import MAX_FUNDER_NAME_LENGTH, FunderUpsert
from incytes_billing.models.usage import BatchUsageInput, UsageInput
from tests.support import PROJECT_ROOT

RECORD = {"usage_id": "u1", "kind": "case", "quantity": 1}


def error_types(error: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [problem["type"] for problem in error.value.errors()]


def test_the_contract_states_the_funder_name_limit() -> None:
    contract = (PROJECT_ROOT / "docs" / "contract.md").read_text()
    assert f"`name` (the only free text a caller sends) 1–{MAX_FUNDER_NAME_LENGTH}" in " ".join(contract.split())


def test_a_funder_name_holds_200_characters_once_stripped() -> None:
    assert MAX_FUNDER_NAME_LENGTH == 200
    assert FunderUpsert(name=f"  {'x' * 200}  ").name == "x" * 200
    with pytest.raises(ValidationError) as too_long:
        FunderUpsert(name="x" * 201)
    assert error_types(too_long) == ["string_too_long"]
    with pytest.raises(ValidationError):
        FunderUpsert(name="   ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T12:00:00Z", datetime(2026, 12, 1, 12, tzinfo=UTC)),
        ("2026-12-01t12:00:00z", datetime(2026, 12, 1, 12, tzinfo=UTC)),  # RFC 3339 is case-insensitive here
        ("2026-12-01T13:00:00.250+01:00", datetime(2026, 12, 1, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-12-01 12:00:00-00:00", datetime(2026, 12, 1, 12, tzinfo=UTC)),  # its note allows the space
    ],
)
def test_occurred_at_takes_rfc_3339_with_an_offset(text: str, expected: datetime) -> None:
    assert UsageInput(**RECORD, occurred_at=text).occurred_at_utc() == expected


@pytest.mark.parametrize(
    "value",
    [1795608000, 1795608000.5, "1795608000", "2026-12-01T12:00:00", "2026-12-01", "01/12/2026 12:00 +00:00", None],
)
def test_occurred_at_refuses_anything_else(value: Any) -> None:
    for model, extra in ((UsageInput, {}), (BatchUsageInput, {"funder_id": "f1"})):
        with pytest.raises(ValidationError) as refused:
            model.model_validate({**RECORD, **extra, "occurred_at": value})
        assert error_types(refused)[0] in ("rfc3339_datetime", "timezone_aware")


def test_unix_seconds_are_refused_with_a_message_naming_the_format() -> None:
    with pytest.raises(ValidationError) as refused:
        UsageInput.model_validate({**RECORD, "occurred_at": 1795608000})
    (problem,) = refused.value.errors()
    assert (problem["loc"], problem["type"]) == (("occurred_at",), "rfc3339_datetime")
    assert "RFC 3339" in problem["msg"]


def test_occurred_at_built_in_code_keeps_its_datetime() -> None:
    moment = datetime(2026, 12, 1, 13, tzinfo=timezone(timedelta(hours=1)))
    assert UsageInput(**RECORD, occurred_at=moment).occurred_at == moment
