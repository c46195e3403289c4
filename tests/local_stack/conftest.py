"""Fixtures for the local stack's own tests (a throwaway template and functions under fixtures/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

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
def aws_session(mocked_aws: None) -> Any:
    """A boto3 session on moto's in-process mock (tests/conftest.py `mocked_aws`: no AWS account is ever reached)."""
    return boto3.session.Session(region_name="us-east-1")
