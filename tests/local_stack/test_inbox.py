"""`make inbox` (local_stack.inbox) shows Finance's messages as Finance reads them: the subject and the email
text (the `email` entry of the JSON message structure SnsFinanceNotifier publishes), not the JSON `default`
that the inbox queue receives; `--raw` shows that JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from incytes_billing.adapters.sns_finance import SnsFinanceNotifier
from incytes_billing.models.events import FinanceNotice
from local_stack.inbox import delivered_text, published_messages
from local_stack.process import free_port
from local_stack.sns_inboxes import INBOX_SUFFIX
from tests.local_stack.conftest import PROJECT_ROOT

NOTICE = FinanceNotice(
    key="invoice-review#in_1",
    event_type="invoice.review_requested",
    subject="Invoice to review: Acme Health (105.00 USD)",
    text="The first invoice of Acme Health is a draft waiting for your review.\nPeriod: 2026-12-02 to 2027-01-02",
    data={"type": "invoice.review_requested", "invoice": {"invoice_id": "in_1"}},
)


@pytest.fixture
def moto_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _clients(endpoint: str) -> tuple[Any, Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client("sns", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)


def _finance_topic_with_inbox(endpoint: str) -> str:
    """The topic and its inbox queue, named as the local stack (stack `local`) names them."""
    sns, sqs = _clients(endpoint)
    topic = sns.create_topic(Name="local-FinanceTopic")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"local-FinanceTopic{INBOX_SUFFIX}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return str(topic)


def _make_inbox(endpoint: str, *args: str) -> str:
    port = endpoint.rsplit(":", 1)[1]
    environment = {**os.environ, "LOCAL_AWS_PORT": port, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-m", "local_stack.inbox", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_inbox_shows_the_email_finance_receives_and_raw_the_queue_json(moto_server: str) -> None:
    topic = _finance_topic_with_inbox(moto_server)
    sns, _ = _clients(moto_server)
    SnsFinanceNotifier(sns, topic).publish(NOTICE)

    shown = _make_inbox(moto_server)
    assert shown == f"--- {NOTICE.subject}  [invoice.review_requested]\n{NOTICE.text}\n\n1 message(s)\n"

    SnsFinanceNotifier(sns, topic).publish(NOTICE)
    raw = _make_inbox(moto_server, "--raw").splitlines()
    assert raw[0] == f"--- {NOTICE.subject}  [invoice.review_requested]"
    assert json.loads(raw[1]) == NOTICE.data  # the JSON for machines (`default`), as before
    assert _make_inbox(moto_server) == "0 message(s)\n"  # printed messages are removed


def test_plain_text_and_unknown_messages_show_what_the_queue_received() -> None:
    envelope = {"MessageId": "m1", "Message": "plain text"}
    assert delivered_text(envelope, "plain text") == "plain text"
    assert delivered_text(envelope, None) == "plain text"
    # A JSON message published as text (no MessageStructure) reached the queue whole: it is what email got.
    published = json.dumps({"default": "x", "email": "y"})
    assert delivered_text({"Message": published}, published) == published
    structured = json.dumps({"default": "{}", "email": "to Finance"})
    assert delivered_text({"Message": "{}"}, structured) == "to Finance"
    assert delivered_text({"Message": "{}"}, json.dumps({"default": "{}"})) == "{}"  # no email entry: default


def test_published_messages_are_read_from_the_moto_dump_by_message_id() -> None:
    dump: dict[str, Any] = {"sns": {"Topic": [{"sent_notifications": [["m1", "text", "subject", {}, None]]}, {}]}}
    assert published_messages(dump) == {"m1": "text"}
    assert published_messages({}) == {}
