"""AWS tables, built once per container (boto3 is in every function's floor)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@cache
def table(name: str) -> Table:
    return boto3.resource("dynamodb").Table(name)
