"""LocalStack in-process with a worker registered through the extension point (an SQS poller, as later issues
will write them): resources, SNS → SQS under moto server, and the worker invoking a template function."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.process import free_port
from local_stack.stack import LocalStack, StackContext, StackSettings
from local_stack.workers import PollingWorker, Worker

FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"


@pytest.fixture
def isolated_environment() -> Iterator[None]:
    """The stack points this process's boto3 at its moto server: put the environment back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_workers_start_with_the_stack_and_invoke_functions(isolated_environment: None) -> None:
    results: list[Any] = []
    received = threading.Event()
    lifecycle: list[str] = []

    def sqs_poller(context: StackContext) -> Iterable[Worker]:
        sqs = context.boto3_session.client("sqs")
        queue_url = context.resources["EventsQueue"]

        def poll_once() -> bool:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            records = [
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
                for m in messages.get("Messages", [])
            ]
            if not records:
                return False
            invocation = context.runner.invoke("EchoFunction", {"resource": "sqs", "Records": records})
            results.append(invocation.result)
            for record in records:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
            received.set()
            return True

        class Recorded(PollingWorker):
            def start(self) -> None:
                lifecycle.append("start")
                super().start()

            def stop(self, timeout: float = 10.0) -> None:
                lifecycle.append("stop")
                super().stop(timeout)

        return [Recorded("events-queue", poll_once, interval=0.05)]

    settings = StackSettings(
        api_port=0, aws_port=free_port(), stripe_port=0, template_path=FIXTURE_TEMPLATE, run_catalog=False
    )
    stack = LocalStack(settings, worker_factories=[sqs_poller], out=io.StringIO())
    try:
        lines = stack.start()
        assert [line.split()[0] for line in lines][:3] == ["API", "AWS", "Stripe"]
        assert lifecycle == ["start"]
        assert stack.context is not None
        sns = stack.context.boto3_session.client("sns")
        sns.publish(TopicArn=stack.context.resources["NotificationsTopic"], Message="usage recorded")
        assert received.wait(10), "the worker never saw the SNS message in its queue"
    finally:
        stack.stop()
    assert lifecycle == ["start", "stop"]
    assert results[0]["statusCode"] == 200
