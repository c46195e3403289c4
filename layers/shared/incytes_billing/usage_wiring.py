"""Composition root of the usage ingest path. Kept apart from `wiring` on purpose: recording usage must not
import `stripe` (cold start) nor call it (inCytes must not wait on Stripe)."""

from __future__ import annotations

import os
from functools import cache

import boto3

from incytes_billing.adapters.dynamodb_audit import DynamoDBAuditLog
from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
from incytes_billing.adapters.dynamodb_usage import DynamoDBUsageRepository
from incytes_billing.domain.audit import AuditTrail
from incytes_billing.domain.usage import UsageLedger


@cache
def usage_ledger() -> UsageLedger:
    dynamodb = boto3.resource("dynamodb")
    return UsageLedger(
        DynamoDBUsageRepository(dynamodb.Table(os.environ["USAGE_TABLE_NAME"])),
        DynamoDBFunderRepository(dynamodb.Table(os.environ["FUNDERS_TABLE_NAME"])),
        audit=AuditTrail(DynamoDBAuditLog(dynamodb.Table(os.environ["AUDIT_TABLE_NAME"]))),
    )
