"""The local API Gateway names an IAM caller on AWS_IAM routes, as API Gateway's IAM auth does (the audit trail
records it); SigV4 is not checked, so the caller is a plausible default or the X-Local-Caller-Arn header's."""

from __future__ import annotations

from typing import Any

from local_stack.apigw import build_proxy_event
from local_stack.template.api import Route


def identity(auth: str, headers: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    event = build_proxy_event(
        "PUT", "/funders/f1", None, headers or [], b"{}", Route("PUT", "/funders/{funder_id}", "F", auth), "dev"
    )
    found: dict[str, Any] = event["requestContext"]["identity"]
    return found


def test_an_iam_route_has_a_local_developer_as_its_caller() -> None:
    caller = identity("AWS_IAM")
    assert caller["userArn"] == "arn:aws:iam::123456789012:user/local-developer"
    assert caller["accountId"] == "123456789012"
    assert caller["caller"] == caller["user"]
    assert caller["caller"].startswith("AIDA")
    assert caller["accessKey"] is None  # an unsigned request


def test_the_local_caller_header_chooses_the_caller() -> None:
    arn = "arn:aws:sts::210987654321:assumed-role/incytes-finance/finance-reviewer"
    caller = identity("AWS_IAM", [("X-Local-Caller-Arn", arn)])
    assert (caller["userArn"], caller["accountId"]) == (arn, "210987654321")
    assert caller["caller"].startswith("AROA")
    assert caller["caller"].endswith(":finance-reviewer")  # a role session: the role's id and the session


def test_a_route_without_iam_auth_has_no_caller() -> None:
    caller = identity("NONE", [("X-Local-Caller-Arn", "arn:aws:iam::123456789012:user/someone")])
    assert (caller["userArn"], caller["caller"], caller["user"], caller["accountId"]) == (None, None, None, None)
