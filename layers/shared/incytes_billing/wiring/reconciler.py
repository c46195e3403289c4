"""ReconcilerFunction: settles meter batches, compares usage with Stripe's summaries, replays undelivered events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.config import ReconcilerConfig, config_reader
from incytes_billing.wiring import parts
from incytes_billing.wiring.usage_billing import usage_billing
from incytes_billing.wiring.webhook import ingress

if TYPE_CHECKING:
    from incytes_billing.adapters.dynamodb_funders import DynamoDBFunderRepository
    from incytes_billing.domain.eventbridge import ArchiveReplay
    from incytes_billing.domain.reconciliation import Reconciler


config = config_reader(ReconcilerConfig)


def funder_repository() -> DynamoDBFunderRepository:
    return parts.funder_repository(config().billing.funders_table)


def reconciler() -> Reconciler:
    from incytes_billing.domain.batch_checks import BatchChecker
    from incytes_billing.domain.reconciliation import Reconciler

    settings = config()
    usage, batches, funders, stripe, finance = usage_billing(settings.billing)
    checker = BatchChecker(usage=usage, batches=batches, funders=funders, meters=stripe, summaries=stripe)
    return Reconciler(
        batches=batches,
        checker=checker,
        funders=funders,
        meters=stripe,
        undelivered=stripe,
        ingress=ingress(settings.events_table, settings.events_queue_url),
        finance=finance,
        catalog=parts.catalog(),
    )


def archive_replay() -> ArchiveReplay:
    import boto3

    from incytes_billing.adapters.eventbridge_archive import EventBridgeArchive
    from incytes_billing.domain.eventbridge import ArchiveReplay

    return ArchiveReplay(EventBridgeArchive(boto3.client("events")), config().event_archives)
