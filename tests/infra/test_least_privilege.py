"""Least privilege (issue 11 §6): each function's IAM statements grant exactly what its code needs.

Two checks meet in the middle:
- from above, here: the actions and resources each function's `Policies` grant (SAM policy templates expanded, see
  tests/iam_grants.py) must equal the table below, where every grant names why the code needs it. A grant the
  code does not need, or one added without a reason, fails.
- from below, in every handler test: the `invoke` fixture (tests/conftest.py) records each AWS call a handler
  makes and fails the test if the function's policies do not grant it. A permission missing from the template
  (and from this table) is caught by the test that exercises the path.

Not in `Policies`, so not checked here: what SAM adds to each generated role by itself -
AWSLambdaBasicExecutionRole (logs), AWSXrayWriteOnlyAccess for `Tracing: Active` (X-Ray needs Resource "*"),
AWSLambdaSQSQueueExecutionRole for the processor's SQS event and AWSLambdaDynamoDBExecutionRole for the usage
reporter's stream (Lambda's event source mappings read with the function's role), and sqs:SendMessage on the
usage reporter's on-failure destination (SAM adds it for `DestinationConfig.OnFailure.Type: SQS`,
samtranslator/model/eventsources/pull.py). Metrics need no cloudwatch:PutMetricData: Powertools writes them as
EMF log lines. A SecureString encrypted with the AWS managed key (aws/ssm) needs no kms:Decrypt statement: that
key's policy lets every principal of the account decrypt through SSM
(https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html).
"""

from __future__ import annotations

import boto3

from local_stack.template.functions import function_environment, function_ids
from local_stack.template.intrinsics import StackResources, resolve_parameters
from tests.iam_grants import (
    UNMAPPED,
    Grant,
    granted_permissions,
    policy_statements,
    recorded_aws_calls,
    ungranted_calls,
)
from tests.support import template

STRIPE_KEY = "parameter:StripeApiKeyParameterName"
NOTICES = {
    ("dynamodb:UpdateItem", "NotificationsTable"): "claim a Finance notice before publishing, mark it published",
    ("dynamodb:GetItem", "NotificationsTable"): "read a claim someone else holds (stale or published?)",
    ("sns:Publish", "FinanceTopic"): "publish Finance's notice",
}
STRIPE = {("ssm:GetParameter", STRIPE_KEY): "the Stripe API key (SSMProvider.get)"}

# function -> {(action, resource): why the code needs it}. Resources are named by logical id (a table, its
# `Table/index/Name`, a queue, a topic) or `parameter:<template parameter naming it>`.
EXPECTED: dict[str, dict[tuple[str, str], str]] = {
    "FundersFunction": {
        ("dynamodb:PutItem", "AuditTable"): "the audit trail: one entry per billing action (AuditLog.append)",
        ("dynamodb:GetItem", "FundersTable"): "the funder (FunderRepository.get)",
        ("dynamodb:PutItem", "FundersTable"): "save the link, conditional on the version read",
        ("dynamodb:Query", "FundersTable/index/by_stripe_customer"): "is the customer linked to another funder?",
        **STRIPE,
    },
    "SubscriptionsFunction": {
        ("dynamodb:PutItem", "AuditTable"): "the audit trail: one entry per billing action (AuditLog.append)",
        ("dynamodb:GetItem", "FundersTable"): "the funder",
        ("dynamodb:PutItem", "FundersTable"): "save the subscription on the funder (versioned)",
        ("dynamodb:GetItem", "IdempotencyTable"): "Powertools idempotency: the stored answer of a repeated key",
        ("dynamodb:PutItem", "IdempotencyTable"): "Powertools idempotency: claim the key (conditional put)",
        ("dynamodb:UpdateItem", "IdempotencyTable"): "Powertools idempotency: store the answer",
        ("dynamodb:DeleteItem", "IdempotencyTable"): "Powertools idempotency: drop the claim of a failed attempt",
        ("dynamodb:GetItem", "InvoicesTable"): "the first invoice's record",
        ("dynamodb:PutItem", "InvoicesTable"): "record the first invoice held for review (versioned)",
        **NOTICES,
        **STRIPE,
    },
    "WebhookFunction": {
        ("dynamodb:PutItem", "StripeEventsTable"): "store the event once (attribute_not_exists)",
        ("dynamodb:UpdateItem", "StripeEventsTable"): "claim or hold the event's hand-off to the queue",
        ("sqs:SendMessage", "StripeEventsQueue"): "hand the event id to the processor",
        ("ssm:GetParameter", "parameter:StripeWebhookSecretsParameterName"): "the webhook signing secrets",
    },
    "WebhookProcessorFunction": {
        ("dynamodb:GetItem", "StripeEventsTable"): "the stored event",
        ("dynamodb:UpdateItem", "StripeEventsTable"): "mark it processed or ignored",
        ("dynamodb:GetItem", "FundersTable"): "the invoice's or subscription's funder",
        ("dynamodb:PutItem", "FundersTable"): "apply subscription changes to the funder (versioned)",
        ("dynamodb:Query", "FundersTable/index/by_stripe_customer"): "events name a customer, not a funder",
        ("dynamodb:GetItem", "InvoicesTable"): "the invoice's record",
        ("dynamodb:PutItem", "InvoicesTable"): "record the invoice (versioned)",
        ("dynamodb:BatchGetItem", "UsageTable"): "usage records a meter error report names",
        ("dynamodb:UpdateItem", "UsageTable"): "settle them failed",
        ("dynamodb:GetItem", "UsageBatchesTable"): "the batch a meter error report names",
        ("dynamodb:UpdateItem", "UsageBatchesTable"): "settle it",
        ("sqs:ChangeMessageVisibility", "StripeEventsQueue"): "retry backoff of a deferred event",
        **NOTICES,
        **STRIPE,
    },
    "ReviewReminderFunction": {
        ("dynamodb:Query", "InvoicesTable/index/by_review_status"): "first invoices pending review",
        ("dynamodb:GetItem", "InvoicesTable"): "the record, before recording it missed",
        ("dynamodb:PutItem", "InvoicesTable"): "record a draft Stripe finalized unreviewed as missed",
        ("dynamodb:GetItem", "FundersTable"): "the funder of a pending invoice",
        ("dynamodb:PutItem", "FundersTable"): "its first-invoice status follows (versioned)",
        **NOTICES,
        **STRIPE,
    },
    "UsageFunction": {
        ("dynamodb:PutItem", "AuditTable"): "the audit trail: one entry per billing action (AuditLog.append)",
        ("dynamodb:PutItem", "UsageTable"): "record usage once (attribute_not_exists)",
        ("dynamodb:GetItem", "UsageTable"): "a repeated usage id answers the stored record",
        ("dynamodb:Query", "UsageTable/index/by_occurred_at"): "GET usage totals over a period",
        ("dynamodb:BatchGetItem", "FundersTable"): "usage needs known funders (their keys, one request per batch)",
    },
    "UsageReporterFunction": {
        ("dynamodb:Scan", "UsageTable/index/pending_by_funder"): "funders with pending usage (scheduled redrive)",
        ("dynamodb:Query", "UsageTable/index/pending_by_funder"): "a funder's pending record keys",
        ("dynamodb:BatchGetItem", "UsageTable"): "the pending records themselves",
        ("dynamodb:UpdateItem", "UsageTable"): "settle records billed, skipped or failed",
        ("dynamodb:PutItem", "UsageBatchesTable"): "save a batch before Stripe is called",
        ("dynamodb:UpdateItem", "UsageBatchesTable"): "mark it streamed or settled",
        ("dynamodb:Query", "UsageBatchesTable/index/open_by_funder"): "batches an earlier run left open",
        ("dynamodb:BatchGetItem", "UsageBatchesTable"): "... read in full",
        ("dynamodb:GetItem", "FundersTable"): "the funder's customer and subscription",
        **NOTICES,
        **STRIPE,
    },
    "ReconcilerFunction": {
        ("dynamodb:Scan", "FundersTable"): "every funder id (a projected scan)",
        ("dynamodb:GetItem", "FundersTable"): "each funder's customer and subscription",
        ("dynamodb:BatchGetItem", "UsageTable"): "the records of a batch it settles",
        ("dynamodb:UpdateItem", "UsageTable"): "settle them",
        ("dynamodb:Query", "UsageBatchesTable/index/open_by_funder"): "batches left open",
        ("dynamodb:Query", "UsageBatchesTable/index/by_meter_time"): "batches compared with Stripe's summaries",
        ("dynamodb:BatchGetItem", "UsageBatchesTable"): "open batches in full",
        ("dynamodb:UpdateItem", "UsageBatchesTable"): "settle them",
        ("dynamodb:PutItem", "StripeEventsTable"): "replay an undelivered event: store it as the webhook does",
        ("dynamodb:UpdateItem", "StripeEventsTable"): "claim or hold its hand-off",
        ("sqs:SendMessage", "StripeEventsQueue"): "hand it to the processor",
        **NOTICES,
        **STRIPE,
    },
    "InvoicesFunction": {
        ("dynamodb:PutItem", "AuditTable"): "the audit trail: one entry per billing action (AuditLog.append)",
        ("dynamodb:Query", "AuditTable"): "GET /funders/{funder_id}/audit pages the trail (AuditLog.page)",
        ("dynamodb:Query", "InvoicesTable/index/by_review_status"): "GET /invoices?review_status=...",
        ("dynamodb:GetItem", "InvoicesTable"): "GET /invoices/{invoice_id}; the invoice record being approved",
        ("dynamodb:PutItem", "InvoicesTable"): "record the approval (versioned)",
        ("dynamodb:GetItem", "FundersTable"): "the invoice's funder",
        ("dynamodb:Query", "FundersTable/index/by_stripe_customer"): "found by the invoice's customer",
        **STRIPE,
    },
}


# Template parameter naming a group's restricted Stripe key -> the functions reading it (docs/stripe-keys.md).
STRIPE_KEY_GROUPS = {
    "StripeFundersKeyParameterName": ["FundersFunction"],
    "StripeSubscriptionsKeyParameterName": ["SubscriptionsFunction"],
    "StripeInvoicesKeyParameterName": ["InvoicesFunction", "WebhookProcessorFunction", "ReviewReminderFunction"],
    "StripeUsageKeyParameterName": ["UsageReporterFunction", "ReconcilerFunction"],
}


def _resource_names(resources: StackResources) -> dict[str, str]:
    """ARN -> the name EXPECTED uses for it."""
    names = {}
    for logical_id, attributes in resources.attributes.items():
        arn = attributes.get("Arn") or attributes.get("TopicArn")
        if arn:
            names[arn] = logical_id
    region, account = resources.region, resources.account_id
    for parameter, value in resolve_parameters(template()).items():
        names[f"arn:aws:ssm:{region}:{account}:parameter/{value}"] = f"parameter:{parameter}"
    return names


def _named(grant: Grant, names: dict[str, str]) -> tuple[str, str]:
    base, index, index_name = grant.resource.partition("/index/")
    resource = names.get(base, base) + (f"/index/{index_name}" if index else "")
    return grant.action, names.get(grant.resource, resource)


def test_every_function_is_in_the_table() -> None:
    assert sorted(EXPECTED) == sorted(function_ids(template()))


def test_each_function_is_granted_exactly_what_its_code_needs(aws: StackResources) -> None:
    names = _resource_names(aws)
    for function, expected in EXPECTED.items():
        granted = {_named(grant, names) for grant in granted_permissions(template(), function, aws)}
        assert not granted - set(expected), f"{function} is granted what the table gives no reason for"
        assert not set(expected) - granted, f"{function} lacks what the table says it needs"


def test_no_statement_grants_every_resource() -> None:
    for function in function_ids(template()):
        for statement in policy_statements(template(), function):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert "*" not in resources, f"{function}: {statement}"


def test_a_call_outside_the_grants_is_reported(aws: StackResources) -> None:
    """The check the `invoke` fixture makes after every invocation: a scan of the events table by the webhook
    function (never granted) is named; the same reads of FundersTable by FundersFunction are not."""
    dynamodb = boto3.client("dynamodb")
    with recorded_aws_calls(aws.account_id) as calls:
        dynamodb.scan(TableName=aws["StripeEventsTable"])
        dynamodb.get_item(TableName=aws["FundersTable"], Key={"funder_id": {"S": "f1"}})
    webhook = ungranted_calls(calls, granted_permissions(template(), "WebhookFunction", aws))
    events_arn = aws.attributes["StripeEventsTable"]["Arn"]
    funders_arn = aws.attributes["FundersTable"]["Arn"]
    assert webhook == [f"dynamodb:GetItem on {funders_arn}", f"dynamodb:Scan on {events_arn}"]
    funders = ungranted_calls(calls, granted_permissions(template(), "FundersFunction", aws))
    assert funders == [f"dynamodb:Scan on {events_arn}"]


def test_each_group_reads_and_may_read_only_its_own_stripe_key(aws: StackResources) -> None:
    """With a key per group, each function's STRIPE_API_KEY_PARAMETER and its one ssm grant name its group's
    parameter (without them, the shared one: the table above)."""
    overrides = {parameter: f"incytes-billing/stripe-key-{n}" for n, parameter in enumerate(STRIPE_KEY_GROUPS)}
    ssm_arn = f"arn:aws:ssm:{aws.region}:{aws.account_id}:parameter/"
    for parameter, functions in STRIPE_KEY_GROUPS.items():
        for function in functions:
            environment = function_environment(template(), function, aws, overrides)
            grants = granted_permissions(template(), function, aws, overrides)
            assert environment["STRIPE_API_KEY_PARAMETER"] == f"/{overrides[parameter]}"
            assert [g.resource for g in grants if g.action.startswith("ssm:")] == [ssm_arn + overrides[parameter]]
    grouped = {function for functions in STRIPE_KEY_GROUPS.values() for function in functions}
    stripe_keys = {
        ssm_arn + name for name in [*overrides.values(), resolve_parameters(template())["StripeApiKeyParameterName"]]
    }
    for function in set(function_ids(template())) - grouped:  # they call no Stripe API
        assert not {g.resource for g in granted_permissions(template(), function, aws, overrides)} & stripe_keys


def test_transactions_are_checked_item_by_item_and_unmapped_calls_are_named(aws: StackResources) -> None:
    """IAM authorizes a transaction per item, with the action of its kind; a call the recorder cannot map to a
    resource is reported, never passed."""
    dynamodb = boto3.client("dynamodb")
    with recorded_aws_calls(aws.account_id) as calls:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": aws["FundersTable"], "Item": {"funder_id": {"S": "f1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": aws["StripeEventsTable"],
                        "Key": {"event_id": {"S": "evt_1"}},
                        "ConditionExpression": "attribute_not_exists(event_id)",
                    }
                },
            ]
        )
        boto3.client("sts").get_caller_identity()
    events_arn = aws.attributes["StripeEventsTable"]["Arn"]
    assert ungranted_calls(calls, granted_permissions(template(), "FundersFunction", aws)) == [
        f"dynamodb:ConditionCheckItem on {events_arn}",
        f"sts:GetCallerIdentity on {UNMAPPED}",
    ]
