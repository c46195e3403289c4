"""`python -m local_stack.inbox` (`make inbox`): print (and remove) the messages in the local SNS inboxes."""

from __future__ import annotations

import json
import sys

import boto3

from local_stack.sns_inboxes import INBOX_SUFFIX
from local_stack.stack import REGION, StackSettings, configure_aws_environment


def main() -> int:
    settings = StackSettings.from_environment()
    configure_aws_environment(settings.aws_endpoint_url)
    sqs = boto3.session.Session(region_name=REGION).client("sqs")
    try:
        urls = sqs.list_queues(QueueNamePrefix=settings.stack_name).get("QueueUrls", [])
    except Exception as error:
        print(f"No local stack at {settings.aws_endpoint_url} ({error}); start it with `make local`.", file=sys.stderr)
        return 1
    count = 0
    for url in (u for u in urls if u.endswith(INBOX_SUFFIX)):
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                envelope = json.loads(message["Body"])
                kind = envelope.get("MessageAttributes", {}).get("event_type", {}).get("Value", "?")
                print(f"--- {envelope.get('Subject')}  [{kind}]\n{envelope.get('Message')}\n")
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                count += 1
    print(f"{count} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
