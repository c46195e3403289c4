"""ReviewReminderFunction: keeps first-invoice drafts held, and reminds Finance of those still pending."""

from __future__ import annotations

from typing import TYPE_CHECKING

from incytes_billing.config import ReviewReminderConfig, config_reader
from incytes_billing.wiring import events

if TYPE_CHECKING:
    from incytes_billing.domain.event_processor import EventProcessor


config = config_reader(ReviewReminderConfig)


def event_processor() -> EventProcessor:
    return events.event_processor(config().events)
