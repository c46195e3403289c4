"""moto (5.2.5) as AWS behaves for EventBridge partner event sources, e.g. Stripe's: :func:`patch_moto`.

Stripe's Amazon EventBridge event destinations (https://docs.stripe.com/event-destinations/eventbridge) put
events on a partner event source ``aws.partner/stripe.com/<destination id>``; the customer associates it with
an event bus named after it, and puts rules on that bus. Plain moto gets three things wrong on that path
(checked by tests/emulator/test_emu_event_destinations.py):

1. Every call naming a bus (``PutRule``, ``PutTargets``, ``PutEvents``... by name or ARN) keeps only the text
   after the last ``/``, so a partner bus (``aws.partner/stripe.com/ed_...``) is never found: "Event bus
   ed_... does not exist". Patched: a partner bus name (or ARN) is kept whole.
2. ``PutPartnerEvents`` puts each event on the account's *default* bus. AWS delivers it to the bus associated
   with the source, and drops it while there is none (the source is pending: AWS "will accept events sent by a
   SaaS partner system when calling PutPartnerEvents, but does not deliver them to customer",
   https://docs.aws.amazon.com/eventbridge/latest/onboarding/AWS_EventBridge_Partner_Onboarding_FAQ.html).
   Patched to do that.
3. What a rule sends its targets (an SQS message body) has no ``account`` field, which every EventBridge event
   has (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html). Patched in.
4. A replay (``StartReplay``) onto a partner bus looks for the bus by the text after the last ``/`` of its ARN.
   Patched like 1.

Call :func:`patch_moto` once, before the events are sent (it patches moto's classes: in-process ``mock_aws``
and a ``ThreadedMotoServer`` of the same process both follow). Calling it again does nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.utils import unix_time
from moto.events import models, utils

PARTNER_PREFIX = "aws.partner/"
_ENVELOPE_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", '
    '"time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}'
)
_PATCHED = "_partner_events_patched"


def _partner_bus_name(name_or_arn: str | None) -> str | None:
    """``aws.partner/...`` from a partner bus name or ARN (``...:event-bus/aws.partner/...``); else ``None``."""
    if name_or_arn is None:
        return None
    name = name_or_arn.split(":event-bus/", 1)[1] if ":event-bus/" in name_or_arn else name_or_arn
    return name if name.startswith(PARTNER_PREFIX) else None


def patch_moto() -> None:
    backend = models.EventsBackend
    if getattr(backend, _PATCHED, False):
        return
    original_normalize = backend._normalize_event_bus_arn

    def normalize_event_bus_arn(self: models.EventsBackend, event_bus_arn: str | None) -> str:
        partner_bus = _partner_bus_name(event_bus_arn)
        return partner_bus if partner_bus is not None else original_normalize(self, event_bus_arn)

    def put_partner_events(self: models.EventsBackend, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            source = entry["Source"]
            for account_id in self.partner_event_sources[source].accounts:
                customer = models.events_backends[account_id][self.region_name]
                if source in customer.event_buses:  # associated; pending: accepted, not delivered
                    customer.put_events([{**entry, "EventBusName": source}])

    original_replay_events = models.Replay.replay_events

    def replay_events(self: models.Replay, archive: models.Archive) -> None:
        partner_bus = _partner_bus_name(self.destination["Arn"])
        if partner_bus is None:
            original_replay_events(self, archive)
            return
        bus = models.events_backends[self.account_id][self.region].describe_event_bus(partner_bus)
        for event in archive.events:
            for rule in bus.rules.values():
                rule.send_to_targets(
                    {**event, "id": str(uuid.uuid4()), "replay-name": self.name}, transform_input=False
                )
        self.state = models.ReplayState.COMPLETED
        self.end_time = unix_time()

    models.Replay.replay_events = replay_events  # type: ignore[method-assign]
    backend._normalize_event_bus_arn = normalize_event_bus_arn  # type: ignore[method-assign]
    backend.put_partner_events = put_partner_events  # type: ignore[method-assign]
    utils.EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = _ENVELOPE_TEMPLATE
    setattr(backend, _PATCHED, True)
