"""The audit trail (issue 11 §3) through the handlers, with events/ files, moto and the Stripe emulator: each
billing action records exactly one entry with the IAM caller, API Gateway's request id and the Stripe request
ids it made; replays record nothing; GET /funders/{funder_id}/audit pages it; nothing secret is in it.

Stripe facts: every response carries a `Request-Id` header, the id of the request in Stripe's logs
(https://docs.stripe.com/api/request_ids).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import stripe

from local_stack.template.intrinsics import StackResources
from stripe_emulator import StripeEmulator
from tests.functions.test_subscriptions_api import manual_subscription
from tests.functions.test_usage_api import now_text
from tests.functions.test_webhook_processing import invoices_event
from tests.support import Invoke, load_event

AUDIT_EVENT = "invoices/get_funder_audit.json"
BACKEND = "arn:aws:iam::123456789012:user/incytes-backend"  # the events/ files' caller
FINANCE = "arn:aws:sts::123456789012:assumed-role/incytes-finance/finance-reviewer"


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def as_request(event: dict[str, Any], request_id: str, *, caller_arn: str = BACKEND, **body: Any) -> dict[str, Any]:
    """The event as one distinct API request (its own API Gateway request id), optionally another caller/body."""
    context = event["requestContext"]
    context["requestId"] = request_id
    context["identity"]["userArn"] = caller_arn
    if body:
        event["body"] = json.dumps(body)
    return event


def entries(aws: StackResources, action: str | None = None) -> list[dict[str, Any]]:
    """The AuditTable's items, oldest first (of one action, if given)."""
    items = boto3.resource("dynamodb").Table(aws["AuditTable"]).scan()["Items"]
    found = sorted(items, key=lambda item: str(item["entry_key"]))
    return [item for item in found if action is None or item["action"] == action]


def stripe_request_ids(emulator: StripeEmulator, method: str | None = None, path: str | None = None) -> list[str]:
    return [
        entry["request_id"]
        for entry in emulator.requests_log()
        if (method is None or entry["method"] == method) and (path is None or entry["path"] == path)
    ]


def audit(invoke: Invoke, request_id: str, funder_id: str = "f1", **query: str) -> dict[str, Any]:
    event = as_request(load_event(AUDIT_EVENT), request_id, caller_arn=FINANCE)
    event["path"] = f"/funders/{funder_id}/audit"
    event["pathParameters"] = {"funder_id": funder_id}
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in query.items()} or None
    return invoke("InvoicesFunction", event)


def test_linking_and_unlinking_a_funder_record_one_entry_each(
    invoke: Invoke, aws: StackResources, demo_customer: str, stripe_emulator: StripeEmulator
) -> None:
    linked = invoke("FundersFunction", as_request(load_event("funders/put_funder_linked.json"), "api-link"))
    assert linked["statusCode"] == 200, linked["body"]
    replayed = invoke("FundersFunction", as_request(load_event("funders/put_funder_linked.json"), "api-link-again"))
    assert replayed["statusCode"] == 200, replayed["body"]
    looked_up = stripe_request_ids(stripe_emulator, "GET", f"/v1/customers/{demo_customer}")
    unlinked = invoke(
        "FundersFunction",
        as_request(load_event("funders/put_funder.json"), "api-unlink", name="Acme", stripe_customer_id=None),
    )
    assert unlinked["statusCode"] == 200, unlinked["body"]

    link, unlink = entries(aws)
    assert link == {
        "funder_id": "f1",
        "entry_key": f"{link['recorded_at']}#api-link",
        "recorded_at": link["recorded_at"],
        "request_id": "api-link",
        "action": "funder.linked",
        "caller": {"user_arn": BACKEND, "caller": "AIDAEXAMPLE", "account_id": "123456789012", "user": "AIDAEXAMPLE"},
        "stripe_request_ids": looked_up,  # the customer check: Stripe's ids, as its logs show them
        "details": {"customer_id": demo_customer, "previous_customer_id": None, "currency": "usd"},
    }
    assert looked_up
    assert all(request_id.startswith("req_") for request_id in looked_up)
    assert (unlink["action"], unlink["request_id"]) == ("funder.unlinked", "api-unlink")
    assert unlink["stripe_request_ids"] == []  # clearing the link asks Stripe nothing
    assert unlink["details"] == {"previous_customer_id": demo_customer}


def test_subscription_actions_record_one_entry_each_and_replays_none(
    invoke: Invoke,
    aws: StackResources,
    subscribed_ready: None,
    stripe_client: stripe.StripeClient,
    stripe_emulator: StripeEmulator,
) -> None:
    subscriptions = "SubscriptionsFunction"
    create = load_event("subscriptions/post_subscription.json")
    for request_id in ("api-create", "api-create-retry"):  # the same Idempotency-Key: the first answer again
        assert invoke(subscriptions, as_request(create, request_id))["statusCode"] == 201
    (created,) = entries(aws, "subscription.created")
    assert created["request_id"] == "api-create"
    assert set(stripe_request_ids(stripe_emulator, "POST", "/v1/subscription_schedules")) <= set(
        created["stripe_request_ids"]
    )
    details = created["details"]
    assert (details["seats"], details["currency"], details["customer_id"]) == (3, "usd", "cus_LocalDemoAcme")

    stripe_client.v1.invoices.finalize_invoice(details["first_invoice_id"], {"auto_advance": True})  # Dashboard
    for request_id in ("api-seats", "api-seats-again"):  # 5 seats, twice: changed once
        changed = invoke(subscriptions, as_request(load_event("subscriptions/patch_subscription.json"), request_id))
        assert changed["statusCode"] == 200, changed["body"]
    (seats,) = entries(aws, "subscription.seats_changed")
    assert (seats["request_id"], seats["details"]["previous_seats"], seats["details"]["seats"]) == ("api-seats", 3, 5)
    assert seats["stripe_request_ids"]

    for request_id in ("api-end", "api-end-again"):
        ending = invoke(subscriptions, as_request(load_event("subscriptions/delete_subscription.json"), request_id))
        assert ending["statusCode"] == 200, ending["body"]
    for request_id in ("api-now", "api-now-again"):  # the second is a 409 subscription_missing
        invoke(subscriptions, as_request(load_event("subscriptions/delete_subscription_now.json"), request_id))
    canceled = entries(aws, "subscription.canceled")
    assert [(e["request_id"], e["details"]["when"]) for e in canceled] == [
        ("api-end", "period_end"),
        ("api-now", "now"),
    ]

    manual = manual_subscription(stripe_client, "cus_LocalDemoAcme", ["incytes_seat_usd", "incytes_sms_usd"])
    for request_id in ("api-link", "api-link-again"):
        event = as_request(load_event("subscriptions/put_subscription.json"), request_id, subscription_id=manual)
        assert invoke(subscriptions, event)["statusCode"] == 200
    (linked,) = entries(aws, "subscription.linked")
    assert (linked["request_id"], linked["details"]["subscription_id"]) == ("api-link", manual)
    every = entries(aws)
    assert len(every) == 6  # the funder's link (subscribed_ready), then one per subscription action
    assert {entry["caller"]["user_arn"] for entry in every} == {BACKEND}


def test_an_approval_records_its_approver_once_and_finance_pages_the_trail(
    invoke: Invoke, aws: StackResources, subscribed: dict[str, Any], stripe_emulator: StripeEmulator
) -> None:
    invoice_id = subscribed["first_invoice"]["id"]
    for request_id in ("api-approve", "api-approve-again"):
        event = as_request(invoices_event("POST", f"/invoices/{invoice_id}/approve"), request_id, caller_arn=FINANCE)
        assert invoke("InvoicesFunction", event)["statusCode"] == 200
    (approval,) = entries(aws, "invoice.approved")
    assert (approval["request_id"], approval["caller"]["user_arn"]) == ("api-approve", FINANCE)
    assert set(stripe_request_ids(stripe_emulator, "POST", f"/v1/invoices/{invoice_id}/finalize")) <= set(
        approval["stripe_request_ids"]
    )
    approved = body_of(invoke("InvoicesFunction", invoices_event("GET", "/invoices", {"review_status": "approved"})))
    (listed,) = approved["invoices"]
    assert listed["approved_by"] == FINANCE
    assert listed["approved_at"] == approval["recorded_at"]

    # The sample event: Finance reads the trail, newest first.
    page = invoke("InvoicesFunction", load_event(AUDIT_EVENT))
    assert page["statusCode"] == 200, page["body"]
    assert [entry["action"] for entry in body_of(page)["entries"]] == [
        "invoice.approved",
        "subscription.created",
        "funder.linked",
    ]
    assert body_of(page)["next_cursor"] is None
    first = body_of(audit(invoke, "api-audit-1", limit="2"))
    second = body_of(audit(invoke, "api-audit-2", limit="2", cursor=first["next_cursor"]))
    assert [e["request_id"] for e in first["entries"] + second["entries"]] == [
        e["request_id"] for e in body_of(page)["entries"]
    ]
    assert second["next_cursor"] is None

    for query in ({"limit": "0"}, {"limit": "101"}, {"cursor": "bm90IG91cnM"}):
        refused = audit(invoke, "api-audit-bad", **query)
        assert refused["statusCode"] == 422, refused["body"]
        assert body_of(refused)["error"]["code"] == "validation_error"
    assert body_of(audit(invoke, "api-audit-404", funder_id="nobody"))["error"]["code"] == "funder_not_found"

    # Nothing secret: no Stripe key or webhook secret, no AWS access key, no signature, no card data.
    stored = json.dumps(entries(aws), default=str)
    for secret in ("sk_test", "sk_live", "rk_", "whsec", "AKIA", "ASIA", "ignature", "card", "pm_"):
        assert secret not in stored


def test_accepted_usage_records_one_entry_per_request_and_funder(invoke: Invoke, aws: StackResources) -> None:
    assert invoke("FundersFunction", load_event("funders/put_funder.json"))["statusCode"] == 200  # no link: no entry
    record: dict[str, Any] = {"usage_id": "case-1", "kind": "case", "quantity": 1, "occurred_at": now_text()}
    single = load_event("usage/post_usage.json")
    for request_id, status in (("api-usage", 202), ("api-usage-replay", 200)):
        assert invoke("UsageFunction", as_request(single, request_id, **record))["statusCode"] == status
    batch = load_event("usage/post_usage_batch.json")
    records = [{"funder_id": "f1", **record}, {"funder_id": "f1", **record, "usage_id": "sms-1", "kind": "sms"}]
    for request_id in ("api-batch", "api-batch-replay"):
        assert invoke("UsageFunction", as_request(batch, request_id, records=records))["statusCode"] == 200

    assert [(e["action"], e["request_id"], e["details"], e["stripe_request_ids"]) for e in entries(aws)] == [
        ("usage.accepted", "api-usage", {"accepted": 1, "duplicate": 0, "rejected": 0}, []),
        ("usage.accepted", "api-batch", {"accepted": 1, "duplicate": 1, "rejected": 0}, []),
    ]


def test_an_audit_table_that_fails_does_not_fail_the_action(
    invoke: Invoke, aws: StackResources, demo_customer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("dynamodb").delete_table(TableName=aws["AuditTable"])  # every audit write now fails
    linked = invoke("FundersFunction", as_request(load_event("funders/put_funder_linked.json"), "api-link"))
    assert linked["statusCode"] == 200, linked["body"]
    assert body_of(linked)["stripe_customer_id"] == demo_customer
