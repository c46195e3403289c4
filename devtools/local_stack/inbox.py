"""`python -m local_stack.inbox` (`make inbox`): print (and remove) the messages in the local SNS inboxes, each as
Finance reads it: its subject and the text its email subscription receives.

A message published with `MessageStructure=json` reaches each subscription as the entry for its protocol, else
`default` (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html, MessageStructure): the inbox queues
(`sqs`) receive `default`, the JSON for machines, while Finance's email subscription receives `email`. SNS email
delivers nothing under moto, so the email text is read from what was published, which moto keeps per topic
(`sent_notifications`, served by its `/moto-api/data.json`), matched by the message id. `--raw` prints the inbox
queues' body instead (`default`).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

import boto3

from local_stack.sns_inboxes import INBOX_SUFFIX
from local_stack.stack import REGION, StackSettings, configure_aws_environment

EMAIL_PROTOCOL = "email"


def published_messages(dump: Mapping[str, Any]) -> dict[str, str]:
    """Message id -> the message as published (a JSON message structure, or plain text), from moto's data dump."""
    published = {}
    for topic in dump.get("sns", {}).get("Topic", []):
        for message_id, message, *_ in topic.get("sent_notifications", []):
            published[message_id] = message
    return published


def moto_data(aws_endpoint_url: str) -> dict[str, Any]:
    """moto server's dump of every resource it holds (its `/moto-api/data.json`)."""
    with urllib.request.urlopen(f"{aws_endpoint_url}/moto-api/data.json", timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def delivered_text(envelope: Mapping[str, Any], published: str | None, protocol: str = EMAIL_PROTOCOL) -> str:
    """The text a `protocol` subscription received, given what an inbox queue received (`envelope`, the SNS
    notification) and what was published; without the publication, the queue's own text."""
    received = str(envelope.get("Message", ""))
    try:
        structure = json.loads(published) if published is not None else None
    except json.JSONDecodeError:
        structure = None
    # A message structure reaches the queue as its `default`: anything else was published as plain text.
    if not isinstance(structure, dict) or structure.get("default") != received:
        return received
    return str(structure.get(protocol) or received)


def shown(envelope: Mapping[str, Any], published: str | None, *, raw: bool = False) -> str:
    """One message as `make inbox` prints it: the subject and the event type, then the body."""
    kind = envelope.get("MessageAttributes", {}).get("event_type", {}).get("Value", "?")
    body = envelope.get("Message") if raw else delivered_text(envelope, published)
    return f"--- {envelope.get('Subject')}  [{kind}]\n{body}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.inbox", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--raw", action="store_true", help="print the JSON the queues receive (`default`), not the email"
    )
    arguments = parser.parse_args(argv)
    settings = StackSettings.from_environment()
    configure_aws_environment(settings.aws_endpoint_url)
    sqs = boto3.session.Session(region_name=REGION).client("sqs")
    try:
        urls = sqs.list_queues(QueueNamePrefix=settings.stack_name).get("QueueUrls", [])
    except Exception as error:
        print(f"No local stack at {settings.aws_endpoint_url} ({error}); start it with `make local`.", file=sys.stderr)
        return 1
    published: dict[str, str] = {}
    count = 0
    for url in (u for u in urls if u.endswith(INBOX_SUFFIX)):
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                envelope = json.loads(message["Body"])
                message_id = str(envelope.get("MessageId"))
                if not arguments.raw and message_id not in published:  # published since the last dump
                    published = published_messages(moto_data(settings.aws_endpoint_url))
                print(shown(envelope, published.get(message_id), raw=arguments.raw))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                count += 1
    print(f"{count} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
