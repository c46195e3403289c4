"""Stripe's side of Amazon EventBridge: the partner event sources of ``amazon_eventbridge`` event destinations,
and the events put on them (https://docs.stripe.com/event-destinations/eventbridge).

What Stripe does, and the emulator with it (the AWS calls go to ``aws_endpoint_url``, default boto3's: the
``AWS_ENDPOINT_URL`` variable, which the local stack points at its moto server, else AWS; under moto's
in-process ``mock_aws`` nothing needs setting):

- **The source.** Creating a destination creates the partner event source ``aws.partner/stripe.com/<ed id>``
  in the account and region the destination names (EventBridge ``CreatePartnerEventSource``): "Stripe creates a
  partner event source in the AWS account and region you provided during configuration". Its ARN is
  ``arn:aws:events:<region>::event-source/aws.partner/stripe.com/<ed id>`` (no account: the source is the
  partner's), as on AWS; the emulator writes it itself rather than take moto's, which repeats ``aws.partner/``.
- **Association.** The source stays ``pending`` until the customer associates it with an event bus, i.e.
  creates an event bus named after it with that ``EventSourceName``: then ``active``. The emulator sees the
  association as that bus existing (``DescribeEventBus``, the customer's side: locally both sides are one
  account). "You won't receive any event data in your Amazon EventBridge until you complete each step"; AWS
  accepts partner events for a pending source "but does not deliver them to customer"
  (https://docs.aws.amazon.com/eventbridge/latest/onboarding/AWS_EventBridge_Partner_Onboarding_FAQ.html): an
  event for a destination whose source is not associated is not delivered, and not kept for later.
- **The events.** ``PutPartnerEvents`` with one entry per event: ``Source`` the partner source name,
  ``DetailType`` the event's ``type``, ``Detail`` the event as JSON (snapshot payload: the whole ``event``;
  thin: the ``v2.core.event`` notification), ``Resources`` the source's ARN, ``Time`` the emulator clock.
  EventBridge wraps it (``version, id, detail-type, source, account, time, region, resources, detail``,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html); the README's "Amazon
  EventBridge" section shows both envelopes and where each field is documented.
- **Size.** An entry over 256 KB (counted as AWS counts it,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/events/CalculatePutEventsEntrySize.html) is refused
  without a call; what Stripe does with such an event is not documented.

Deleting a destination deletes its partner event source (``DeletePartnerEventSource``), and so does the 7-day
deadline to associate it (a clock rule of :mod:`.resources.event_destinations`).
"""

from __future__ import annotations

import json
import threading
import weakref
from datetime import UTC, datetime
from typing import Any

from .store import JSON, Store

PARTNER_PREFIX = "aws.partner/stripe.com/"
MAX_ENTRY_BYTES = 256 * 1024


class EventBridgeError(Exception):
    """An AWS call failed: ``code`` as AWS gave it (``None``: no answer), ``status`` its HTTP status."""

    def __init__(self, reason: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.status = status


def source_name(destination_id: str) -> str:
    return PARTNER_PREFIX + destination_id


def source_arn(region: str, name: str) -> str:
    return f"arn:aws:events:{region}::event-source/{name}"


def region_of(arn: str) -> str:
    return arn.split(":")[3]


def entry(event: JSON, name: str, region: str, moment: float) -> dict[str, Any]:
    """The ``PutPartnerEvents`` entry Stripe sends for ``event`` (already rendered for the destination)."""
    return {
        "Source": name,
        "DetailType": event["type"],
        "Detail": json.dumps(event, ensure_ascii=False),
        "Resources": [source_arn(region, name)],
        "Time": datetime.fromtimestamp(int(moment), UTC),
    }


def entry_size(put: dict[str, Any]) -> int:
    """The size AWS counts against the 256 KB limit: 14 bytes for ``Time``, then the UTF-8 bytes of the rest."""
    strings = [put["Source"], put["DetailType"], put["Detail"], *put["Resources"]]
    return 14 + sum(len(text.encode("utf-8")) for text in strings)


class PartnerEventSources:
    """The AWS calls Stripe makes as an EventBridge partner, through one boto3 ``events`` client per region,
    created on first use: boto3 is imported then, so the emulator needs it only once a destination exists."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _call(self, region: str, operation: str, **params: Any) -> dict[str, Any]:
        """One ``events`` API call; any failure is an :class:`EventBridgeError`."""
        import boto3  # noqa: PLC0415 - only once an EventBridge destination is used
        from botocore.config import Config  # noqa: PLC0415
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        with self._lock:
            if region not in self._clients:
                # Short timeouts: a missing local endpoint must not stall a request (or the worker) for minutes.
                config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
                self._clients[region] = boto3.client(
                    "events", region_name=region, endpoint_url=self.endpoint_url, config=config
                )
            client = self._clients[region]
        try:
            answer: dict[str, Any] = getattr(client, operation)(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            code = details.get("Code")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise EventBridgeError(f"{code}: {details.get('Message', '')}", code, status) from error
        except BotoCoreError as error:
            raise EventBridgeError(f"{type(error).__name__}: {error}") from error
        return answer

    def forget_clients(self) -> None:
        """Drop the clients (reset does): the next call builds one from the environment as it is then."""
        with self._lock:
            self._clients.clear()

    def create(self, name: str, account: str, region: str) -> None:
        self._call(region, "create_partner_event_source", Name=name, Account=account)

    def delete(self, name: str, account: str, region: str) -> None:
        """Delete the source; one already gone (or unreachable AWS) is not an error for the caller."""
        try:
            self._call(region, "delete_partner_event_source", Name=name, Account=account)
        except (EventBridgeError, KeyError):  # in-process moto raises KeyError for a source it never had
            return

    def status(self, name: str, region: str) -> str:
        """``active`` when an event bus is associated with the source (named after it), ``pending`` when none
        is, ``unknown`` when AWS cannot tell."""
        try:
            self._call(region, "describe_event_bus", Name=name)
        except EventBridgeError as error:
            return "pending" if error.code == "ResourceNotFoundException" else "unknown"
        return "active"

    def put(self, region: str, put: dict[str, Any]) -> tuple[int | None, str | None]:
        """``PutPartnerEvents`` with one entry: ``(HTTP status, None)`` when EventBridge took it, ``(status or
        None, reason)`` when it did not (a failed entry, an error answer, no answer)."""
        try:
            answer = self._call(region, "put_partner_events", Entries=[put])
        except EventBridgeError as error:
            return error.status, str(error)
        failed = [item for item in answer.get("Entries", []) if item.get("ErrorCode")]
        if answer.get("FailedEntryCount") or failed:
            first = failed[0] if failed else {}
            return None, f"failed entry: {first.get('ErrorCode', '?')}: {first.get('ErrorMessage', '')}"
        status: int = answer["ResponseMetadata"]["HTTPStatusCode"]
        return status, None


_GATEWAYS: weakref.WeakKeyDictionary[Store, PartnerEventSources] = weakref.WeakKeyDictionary()


def attach(store: Store, sources: PartnerEventSources) -> None:
    """Make ``sources`` the AWS side of ``store``'s event destinations (the app does, when it is built)."""
    _GATEWAYS[store] = sources


def sources_of(store: Store) -> PartnerEventSources:
    try:
        return _GATEWAYS[store]
    except KeyError:
        raise RuntimeError("no AWS side attached to this store (EmulatorApp attaches one)") from None
