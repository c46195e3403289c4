"""Imported once by the fork server that starts function instances (`local_stack.instances`): loads boto3's
service models for the services the local stack hosts, so that an instance's first clients do not parse them
again (in one process they were shared by every function; on Lambda they are part of each cold start).

Only what is the same for every instance is loaded: the client made here gets explicit fake credentials and a
closed endpoint, and is dropped; no credential chain, region or endpoint of the stack is looked up.
"""

from __future__ import annotations

from typing import Any

import boto3

# What the local stack creates on moto (tables, topics, queues, the Stripe key's parameter).
SERVICES = ("dynamodb", "sns", "sqs", "ssm")


def _load_models() -> None:
    boto3.setup_default_session()  # the session the handlers' `boto3.client(...)` calls use
    session: Any = boto3.DEFAULT_SESSION
    unused: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": "http://127.0.0.1:9",  # discard port: nothing is ever sent
        "aws_access_key_id": "warmup",
        "aws_secret_access_key": "warmup",
    }
    for service in SERVICES:
        session.client(service, **unused)
    session.resource("dynamodb", **unused)


_load_models()
