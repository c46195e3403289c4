"""The audit trail (AuditTable): who did what to a funder's billing, when, and with which Stripe requests.

Nothing secret is recorded: the caller is named by its IAM identity (never its access key or signature), the
Stripe requests by their `req_...` ids (never the key, a body or card data), the action by ids and counts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from incytes_billing.models.caller import Caller

AuditAction = Literal[
    "funder.linked",  # PUT /funders/{id} set (or changed) the Stripe customer
    "funder.unlinked",  # PUT /funders/{id} cleared it
    "subscription.created",  # POST /funders/{id}/subscription
    "subscription.linked",  # PUT /funders/{id}/subscription
    "subscription.seats_changed",  # PATCH /funders/{id}/subscription
    "subscription.canceled",  # DELETE /funders/{id}/subscription
    "invoice.approved",  # POST /invoices/{id}/approve
    "usage.accepted",  # POST /funders/{id}/usage, POST /usage: one entry per request and funder
]
# Detail values are ids, counts and choices: never free text a caller sent.
AuditDetail = str | int | bool | None


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    funder_id: str
    recorded_at: str  # UTC, RFC 3339 with milliseconds: sorts as text
    request_id: str  # API Gateway's requestContext.requestId (also the logs' correlation id)
    action: AuditAction
    caller: Caller
    stripe_request_ids: list[str] = Field(default_factory=list)
    details: dict[str, AuditDetail] = Field(default_factory=dict)

    @property
    def sort_key(self) -> str:
        """Newest last when sorted; unique per funder and request (a request records one action per funder)."""
        return f"{self.recorded_at}#{self.request_id}"

    def api_view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"funder_id"})


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_cursor: str | None = None  # opaque; None on the last page
