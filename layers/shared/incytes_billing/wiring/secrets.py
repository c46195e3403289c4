"""Secrets kept in SSM (the Stripe key, the webhook signing secrets), re-read as they rotate."""

from __future__ import annotations

from functools import cache

import boto3
from aws_lambda_powertools.utilities.parameters import SSMProvider

# A secret is re-read at most this often, so a rotated one is picked up without a redeploy.
SECRET_MAX_AGE_SECONDS = 300


@cache
def _ssm() -> SSMProvider:
    return SSMProvider(boto3_client=boto3.client("ssm"))


def secret(parameter: str) -> str:
    return str(_ssm().get(parameter, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS))
