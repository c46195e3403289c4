"""checkov's skips live in the template, each with its reason (issue 11 §7): `make checkov` runs checkov itself."""

from __future__ import annotations

from typing import Any

from tests.support import template


def _checkov_skips() -> dict[str, list[dict[str, Any]]]:
    return {
        logical_id: ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []
        for logical_id, resource in template()["Resources"].items()
    }


def test_every_checkov_skip_names_a_check_and_says_why() -> None:
    skips = [(logical_id, skip) for logical_id, entries in _checkov_skips().items() for skip in entries]
    assert skips
    for logical_id, skip in skips:
        assert str(skip.get("id", "")).startswith("CKV_"), (logical_id, skip)
        assert len(str(skip.get("comment", "")).split()) >= 8, f"{logical_id} skips {skip.get('id')} without a reason"


def test_no_check_is_skipped_twice_on_one_resource() -> None:
    for logical_id, entries in _checkov_skips().items():
        ids = [skip.get("id") for skip in entries]
        assert len(ids) == len(set(ids)), logical_id
