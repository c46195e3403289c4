"""Fixtures for the local stack's own tests (a throwaway template and functions under fixtures/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack.template.document import Template, load_template

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
PROJECT_ROOT = HERE.parents[1]
PROJECT_TEMPLATE = PROJECT_ROOT / "template.yaml"


@pytest.fixture
def fixture_template() -> Template:
    return load_template(FIXTURE_TEMPLATE)


@pytest.fixture
def project_template() -> Template:
    return load_template(PROJECT_TEMPLATE)


@pytest.fixture
def aws_session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 session on moto's in-process mock, with fake credentials (no AWS account is ever reached)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")
