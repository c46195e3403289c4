"""Fixtures of the handler suites."""

from __future__ import annotations

import json
from typing import Any

import pytest

from incytes_billing.wiring.catalog_sync import run_catalog_sync
from local_stack.stream_source import DynamoDBStreamSource, dynamodb_stream_sources, streams_client
from local_stack.template.intrinsics import StackResources
from tests.functions.pipeline import Pipeline
from tests.support import EMULATOR_API_KEY, Invoke, load_event, template


@pytest.fixture
def pipeline(invoke: Invoke, aws: StackResources, stripe_api: str) -> Pipeline:
    return Pipeline(invoke, aws, stripe_api)


@pytest.fixture
def stream(invoke: Invoke, aws: StackResources) -> DynamoDBStreamSource:
    """The UsageTable stream feeding UsageReporterFunction, as the local stack runs it."""
    (source,) = dynamodb_stream_sources(template(), aws, invoke, streams_client())
    return source


@pytest.fixture
def subscribed_ready(invoke: Invoke, stripe_api: str, demo_customer: str) -> None:
    """The catalog, and funder f1 linked to the demo customer: ready for a one-click subscription."""
    run_catalog_sync(EMULATOR_API_KEY, stripe_api)
    assert invoke("FundersFunction", load_event("funders/put_funder_linked.json"))["statusCode"] == 200


@pytest.fixture
def subscribed(invoke: Invoke, subscribed_ready: None) -> dict[str, Any]:
    """Funder f1, linked to the demo customer, with a one-click subscription (its first invoice held)."""
    response = invoke("SubscriptionsFunction", load_event("subscriptions/post_subscription.json"))
    assert response["statusCode"] == 201, response["body"]
    created: dict[str, Any] = json.loads(response["body"])
    return created
