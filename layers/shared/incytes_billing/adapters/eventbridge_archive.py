"""EventArchive on an EventBridge archive of the Stripe partner bus (StripeEventIngress eventbridge or both).

A replay puts the archived events back on the bus they were archived from; its rule queues them for the processor
again, and the processor applies each Stripe event once whatever the number of deliveries
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

# ReplayName: 1-64 of [.-_A-Za-z0-9] (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_StartReplay.html).
NOT_IN_REPLAY_NAME = re.compile(r"[^.\-_A-Za-z0-9]")


class EventBridgeArchive:
    def __init__(self, client: EventBridgeClient) -> None:
        self._client = client

    def replay(self, archive_name: str, start: datetime, end: datetime) -> str:
        # Named after the archive and the window: starting the same replay twice is refused by EventBridge
        # (ResourceAlreadyExists), which is what a retried request wants.
        window = f"{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}"
        name = NOT_IN_REPLAY_NAME.sub("-", f"{archive_name[: 64 - len(window) - 1]}-{window}")
        archive = self._client.describe_archive(ArchiveName=archive_name)
        try:
            self._client.start_replay(
                ReplayName=name,
                EventSourceArn=archive["ArchiveArn"],
                EventStartTime=start,
                EventEndTime=end,
                Destination={"Arn": archive["EventSourceArn"]},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        return name
