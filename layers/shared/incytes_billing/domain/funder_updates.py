"""One way to change a stored funder: optimistic locking, re-reading on a concurrent write."""

from __future__ import annotations

from collections.abc import Callable

from incytes_billing.errors import ConcurrentUpdate
from incytes_billing.models.funder import Funder
from incytes_billing.ports import FunderRepository

MAX_WRITE_ATTEMPTS = 5


def update_funder(
    funders: FunderRepository, funder_id: str, change: Callable[[Funder], Funder | None]
) -> Funder | None:
    """Apply `change` to the stored funder and save it under its version.

    `change` answers the new funder, or None to leave the stored one as it is (it may also raise to refuse).
    Answers the funder as stored afterwards, None when there is no such funder. After MAX_WRITE_ATTEMPTS
    concurrent writes in a row, raises ConcurrentUpdate.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        funder = funders.get(funder_id)
        if funder is None:
            return None
        updated = change(funder)
        if updated is None:
            return funder
        updated = updated.model_copy(update={"version": funder.version + 1})
        try:
            funders.save(updated, expected_version=funder.version)
        except ConcurrentUpdate:
            continue
        return updated
    raise ConcurrentUpdate(f"Funder '{funder_id}' is being changed by other requests; retry.")
