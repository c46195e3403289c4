"""DynamoDB stream event sources, played locally as Lambda's event source mapping would (moto runs none).

Reads each shard from its start (TRIM_HORIZON), applies the event's `FilterCriteria` (top-level patterns of
allowed values, e.g. `{"eventName": ["INSERT"]}`), invokes the function with a Lambda DynamoDB event, and
moves on only past what succeeded: with `ReportBatchItemFailures` the next read starts at the first failed
record; when the function raises, the same records are read again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from local_stack.template.functions import function_ids, function_properties
from local_stack.workers import PollingWorker

LOG = logging.getLogger(__name__)
Invoke = Callable[[str, dict[str, Any]], Any]


def _matches(record: dict[str, Any], patterns: list[dict[str, Any]]) -> bool:
    if not patterns:
        return True
    return any(all(record.get(key) in allowed for key, allowed in pattern.items()) for pattern in patterns)


class DynamoDBStreamSource:
    def __init__(
        self,
        invoke: Invoke,
        function_id: str,
        *,
        streams: Any,
        stream_arn: str,
        region: str,
        batch_size: int = 100,
        patterns: list[dict[str, Any]] | None = None,
    ) -> None:
        self._invoke = invoke
        self.function_id = function_id
        self._streams = streams
        self._stream_arn = stream_arn
        self._region = region
        self._batch_size = min(batch_size, 1000)
        self._patterns = patterns or []
        self._positions: dict[str, dict[str, str]] = {}  # shard id -> iterator arguments

    def _iterator(self, shard_id: str) -> str:
        position = self._positions.get(shard_id, {"ShardIteratorType": "TRIM_HORIZON"})
        return str(
            self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id, **position)["ShardIterator"]
        )

    def poll_once(self) -> bool:
        busy = False
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            records = self._streams.get_records(ShardIterator=self._iterator(shard_id), Limit=self._batch_size)[
                "Records"
            ]
            if not records:
                continue
            busy = True
            wanted = [
                {**record, "eventSourceARN": self._stream_arn, "awsRegion": self._region}
                for record in records
                if _matches(record, self._patterns)
            ]
            last = records[-1]["dynamodb"]["SequenceNumber"]
            if not wanted:
                self._positions[shard_id] = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
                continue
            try:
                result = self._invoke(self.function_id, {"Records": json.loads(json.dumps(wanted, default=str))}) or {}
            except Exception:
                LOG.exception("%s failed: its stream records will be read again", self.function_id)
                return busy
            failures = result.get("batchItemFailures", [])
            if failures:
                self._positions[shard_id] = {
                    "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                    "SequenceNumber": failures[0]["itemIdentifier"],
                }
                return busy
            self._positions[shard_id] = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
        return busy

    def drain(self, max_rounds: int = 100) -> None:
        for _ in range(max_rounds):
            if not self.poll_once():
                return


def dynamodb_stream_sources(template: Any, resources: Any, invoke: Invoke, streams: Any) -> list[DynamoDBStreamSource]:
    """One source per `Type: DynamoDB` event of the template's functions (`Stream: !GetAtt T.StreamArn`)."""
    sources = []
    for function_id in function_ids(template):
        for event in (function_properties(template, function_id).get("Events") or {}).values():
            if event.get("Type") != "DynamoDB":
                continue
            properties = event["Properties"]
            table = properties["Stream"]["Fn::GetAtt"][0]
            filters = (properties.get("FilterCriteria") or {}).get("Filters", [])
            sources.append(
                DynamoDBStreamSource(
                    invoke,
                    function_id,
                    streams=streams,
                    stream_arn=resources.attributes[table]["StreamArn"],
                    region=resources.region,
                    batch_size=int(properties.get("BatchSize", 100)),
                    patterns=[json.loads(f["Pattern"]) for f in filters],
                )
            )
    return sources


def streams_client(session: Any = None) -> Any:
    """A DynamoDB Streams client moto can serve: botocore 1.44 defaults to account-based endpoints
    (`<account>.streams-ddb...`), which moto 5.2 does not route."""
    config = Config(account_id_endpoint_mode="disabled")
    return (session or boto3).client("dynamodbstreams", config=config)


def stream_workers(context: Any) -> list[PollingWorker]:
    def invoke(function_id: str, event: dict[str, Any]) -> Any:
        return context.runner.invoke(function_id, event).result

    streams = streams_client(context.boto3_session)
    return [
        PollingWorker(f"stream:{source.function_id}", source.poll_once, interval=1.0)
        for source in dynamodb_stream_sources(context.template, context.resources, invoke, streams)
    ]
