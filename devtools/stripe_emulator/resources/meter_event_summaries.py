"""Meter event summaries (https://docs.stripe.com/api/billing/meter-event-summary/list): a customer's usage
of a meter over ``[start_time, end_time)``, aggregated with the meter's formula.

- ``customer``, ``start_time`` and ``end_time`` are required; both times must be aligned with minute
  boundaries ("Must be aligned with minute boundaries"), with hour or UTC-day boundaries when
  ``value_grouping_window`` is ``hour`` or ``day``; ``start_time`` must come before ``end_time``. The
  messages of these 400s are the emulator's (not checked against Stripe).
- Without ``value_grouping_window`` the answer is one summary for the whole range (``aggregated_value`` 0
  when nothing was used); with it, one summary per hour (day) that holds usage, newest first, as
  Stripe's example lists them. Windows without usage are left out (not checked against Stripe).
- An event counts by its ``timestamp`` (``start_time`` inclusive, ``end_time`` exclusive) once it has been
  processed: queued events are processed at the next tick, and the ``processing_lag_seconds`` control
  keeps events out of summaries for that long after they arrived, as Stripe's asynchronous aggregation
  does ("meter event summaries provide an eventually consistent view").
- Summary ids (``mtrusg_test_...``) encode meter, customer and window, so ``starting_after`` /
  ``ending_before`` page through them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import ParamError, exclusive_parameters, invalid_request
from ..lists import DEFAULT_LIMIT, list_params
from ..params import Enum, Int, Str
from ..routing import Call, RouteTable
from ..store import JSON
from .kinds import BILLING_METER, BILLING_METER_EVENT_SUMMARY
from .meter_events import aggregate, json_number, ledger_of, pre_aggregated

routes = RouteTable()

GRANULARITY = {None: 60, "hour": 3600, "day": 86_400}
BOUNDARY_NAMES = {None: "minute", "hour": "hour", "day": "UTC day"}
LIST = list_params(
    customer=Str(required=True),
    end_time=Int(required=True),
    start_time=Int(required=True),
    value_grouping_window=Enum("day", "hour"),
)


def summary_id(meter: str, customer: str, start: int, end: int) -> str:
    raw = f"{meter}:{customer}:{start}:{end}".encode()
    return BILLING_METER_EVENT_SUMMARY.prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(summary: str) -> str | None:
    if not summary.startswith(BILLING_METER_EVENT_SUMMARY.prefix):
        return None
    body = summary[len(BILLING_METER_EVENT_SUMMARY.prefix) :]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _check_times(start: int, end: int, window: str | None) -> None:
    step = GRANULARITY[window]
    for name, value in (("start_time", start), ("end_time", end)):
        if value % step:
            raise ParamError(
                f"The {name} must be aligned with {BOUNDARY_NAMES[window]} boundaries"
                + (f" when value_grouping_window is {window}." if window else "."),
                param=name,
            )
    if start >= end:
        raise ParamError("The start_time must be before the end_time.", param="start_time")


def _page(call: Call, summaries: list[JSON]) -> JSON:
    params = call.params
    if "starting_after" in params and "ending_before" in params:
        raise exclusive_parameters("starting_after", "ending_before")
    limit: int = params.get("limit", DEFAULT_LIMIT)
    ids = [summary["id"] for summary in summaries]
    for name in ("starting_after", "ending_before"):
        if name in params and params[name] not in ids:
            if _decode(params[name]) is None:
                raise invalid_request(f"No such billing meter event summary: '{params[name]}'", param=name)
            raise invalid_request(f"The {name} cursor {params[name]!r} is not a summary of this list.", param=name)
    if "starting_after" in params:
        rest = summaries[ids.index(params["starting_after"]) + 1 :]
        page, has_more = rest[:limit], len(rest) > limit
    elif "ending_before" in params:
        rest = summaries[: ids.index(params["ending_before"])]
        page, has_more = rest[-limit:], len(rest) > limit
    else:
        page, has_more = summaries[:limit], len(summaries) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": call.url}


@routes.get("/v1/billing/meters/{id}/event_summaries", params=LIST, returns=BILLING_METER_EVENT_SUMMARY, is_list=True)
def list_summaries(call: Call) -> JSON:
    params: dict[str, Any] = call.params
    meter = call.store.require(BILLING_METER, call.path["id"])
    start, end, window = params["start_time"], params["end_time"], params.get("value_grouping_window")
    _check_times(start, end, window)
    ledger = ledger_of(call.store)
    processed_by = call.store.clock.now_float() - ledger.processing_lag
    events = pre_aggregated(meter, ledger.events(meter["id"], params["customer"], start, end, processed_by))
    formula = meter["default_aggregation"]["formula"]
    if window is None:
        bounds = [(start, end)]
    else:
        step = GRANULARITY[window]
        starts = sorted({start + (int(usage.timestamp) - start) // step * step for usage in events}, reverse=True)
        bounds = [(first, first + step) for first in starts]
    summaries = [
        {
            "id": summary_id(meter["id"], params["customer"], first, last),
            "object": "billing.meter_event_summary",
            "aggregated_value": json_number(
                aggregate(formula, (usage for usage in events if first <= usage.timestamp < last))
            ),
            "end_time": last,
            "livemode": False,
            "meter": meter["id"],
            "start_time": first,
        }
        for first, last in bounds
    ]
    return _page(call, summaries)
