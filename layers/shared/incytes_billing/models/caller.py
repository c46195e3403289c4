"""Who asked: the IAM identity API Gateway authenticated, kept by the invocation and recorded in the audit trail.

A plain dataclass, not a pydantic model: every function records its invocation's caller at init, and building a
first pydantic model class costs a worker ~40 ms of cold start (issue 12 §1). Pydantic still validates it as
the field of an audit entry (models/audit.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """API Gateway's `requestContext.identity`; None fields outside IAM auth (and outside an API request)."""

    user_arn: str | None = None
    caller: str | None = None
    account_id: str | None = None
    user: str | None = None
