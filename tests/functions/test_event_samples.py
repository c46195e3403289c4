"""The events/ samples of the invoices function, the webhook processor and the review reminder, invoked as
`sam local invoke <Function> -e events/…` passes them (tests/infra/test_event_files.py: every sample is used).

The samples name each other as a `sam local invoke` session would: events/webhook/invoice_created.json
stores evt_1SampleInvoiceCreated (draft in_1SampleDraft of funder f1), events/webhook_processor/stored_event.json
is the queue message naming that event, events/invoices/approve_invoice.json approves that draft. Applying the
sample draft needs it in Stripe: the tests put the emulator's own ids in the samples where Stripe is asked.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.functions.pipeline import Pipeline
from tests.support import Invoke, load_event

INVOICES = "InvoicesFunction"
PROCESSOR = "WebhookProcessorFunction"
SAMPLE_DRAFT = "in_1SampleDraft"


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def for_invoice(event: dict[str, Any], invoice_id: str) -> dict[str, Any]:
    """The approval sample for another invoice (the emulator's ids are its own)."""
    for where in (event, event["requestContext"]):
        where["path"] = where["path"].replace(SAMPLE_DRAFT, invoice_id)
    event["pathParameters"] = {"invoice_id": invoice_id}
    return event


def test_list_invoices_sample_lists_the_pending_first_invoice(invoke: Invoke, subscribed: dict[str, Any]) -> None:
    response = invoke(INVOICES, load_event("invoices/list_invoices_pending.json"))

    assert response["statusCode"] == 200, response["body"]
    listed = body_of(response)
    assert listed["review_status"] == "pending"
    assert [i["invoice_id"] for i in listed["invoices"]] == [subscribed["first_invoice"]["id"]]


def test_approve_invoice_sample_approves_the_draft_it_names(invoke: Invoke, subscribed: dict[str, Any]) -> None:
    sample = load_event("invoices/approve_invoice.json")
    unknown = invoke(INVOICES, sample)  # the sample webhook's draft: never recorded here
    assert (unknown["statusCode"], body_of(unknown)["error"]["code"]) == (404, "invoice_not_found")

    invoice_id = subscribed["first_invoice"]["id"]
    approved = invoke(INVOICES, for_invoice(sample, invoice_id))

    assert approved["statusCode"] == 200, approved["body"]
    assert body_of(approved) == {"invoice_id": invoice_id, "status": "open", "review_status": "approved"}


def for_stored_event(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The queue message sample for another stored event (the emulator's event ids are its own)."""
    (record,) = event["Records"]
    record.update({"body": event_id, "md5OfBody": hashlib.md5(event_id.encode()).hexdigest()})  # noqa: S324
    return event


def test_webhook_processor_sample_names_the_event_the_webhook_sample_stores() -> None:
    (record,) = load_event("webhook_processor/stored_event.json")["Records"]
    stored = json.loads(load_event("webhook/invoice_created.json")["body"])
    assert record["body"] == stored["id"]
    assert record["md5OfBody"] == hashlib.md5(stored["id"].encode()).hexdigest()  # noqa: S324 - SQS's checksum


def test_webhook_processor_sample_applies_a_stored_event(
    invoke: Invoke, pipeline: Pipeline, subscribed: dict[str, Any]
) -> None:
    sample = load_event("webhook_processor/stored_event.json")
    assert invoke(PROCESSOR, sample) == {"batchItemFailures": []}  # nothing stored by that id: nothing to do

    invoice_id = subscribed["first_invoice"]["id"]
    created = pipeline.stripe_event("invoice.created", invoice_id)
    pipeline.deliver(created)  # the webhook stores it
    event_id = json.loads(created)["id"]

    assert invoke(PROCESSOR, for_stored_event(sample, event_id)) == {"batchItemFailures": []}
    assert pipeline.event_status(event_id) == "processed"
    record = pipeline.invoice(invoice_id)
    assert record is not None
    assert (record["funder_id"], record["review_status"]) == ("f1", "pending")


@pytest.mark.parametrize(
    ("sample", "outcome"),
    [
        ("review_reminder/daily.json", {"missed": [], "reminded": []}),
        ("review_reminder/hold_check.json", {"missed": []}),
    ],
)
def test_review_reminder_samples_are_its_schedules_inputs(
    invoke: Invoke, stripe_api: str, sample: str, outcome: dict[str, Any]
) -> None:
    """EventBridge passes a rule's `Input` instead of the scheduled event: these are the template's Inputs."""
    assert invoke("ReviewReminderFunction", load_event(sample)) == outcome
