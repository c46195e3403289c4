"""The Lambda invocation being served: its id (for per-attempt Stripe idempotency keys), its deadline, and for
the audit trail who asked (API Gateway's IAM caller and request id) and the Stripe requests made for it.

Lambda serves one event at a time per container, so the current invocation is module state, set by each
handler (`begin`) from its context. Outside Lambda (the catalog CLI, tests without a context) an invocation
has a fresh random id and no deadline.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from incytes_billing.models.caller import Caller

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.utilities.typing import LambdaContext

# An audit entry holds at most this many Stripe request ids (a request makes a handful; DynamoDB items are bounded).
MAX_STRIPE_REQUEST_IDS = 100


class HasRemainingTime(Protocol):
    @property
    def aws_request_id(self) -> str: ...
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Invocation:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline: float | None = None  # time.monotonic() by which the handler must have answered
    caller: Caller = field(default_factory=Caller)  # nobody known: not an API request
    http_request_id: str | None = None  # API Gateway's requestContext.requestId
    # Stripe's Request-Id of every response received in this invocation, in order (the audit trail's).
    stripe_request_ids: list[str] = field(default_factory=list)

    def seconds_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def note_stripe_request(self, stripe_request_id: str) -> None:
        if len(self.stripe_request_ids) < MAX_STRIPE_REQUEST_IDS:
            self.stripe_request_ids.append(stripe_request_id)


_current = Invocation()


def begin(
    context: HasRemainingTime | None, *, caller: Caller | None = None, http_request_id: str | None = None
) -> Invocation:
    """Start serving an event: every Stripe call from now on works within this invocation's time.

    An API request also names its caller and API Gateway request id (the audit trail records both).
    """
    global _current  # noqa: PLW0603 - one invocation at a time per container
    caller = caller or Caller()
    if context is None:
        _current = Invocation(caller=caller, http_request_id=http_request_id)
    else:
        deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
        _current = Invocation(
            request_id=context.aws_request_id, deadline=deadline, caller=caller, http_request_id=http_request_id
        )
    return _current


def current() -> Invocation:
    return _current


type Handler[R] = Callable[[dict[str, Any], LambdaContext], R]


def worker_handler[R](logger: Logger, metrics: Metrics) -> Callable[[Handler[R]], Handler[R]]:
    """The handler of a function not behind the API (scheduled, stream or queue): logged with its Lambda context,
    its metrics published, and each event served as an invocation, so that Stripe calls stop before the function
    would time out."""

    def decorate(handler: Handler[R]) -> Handler[R]:
        @logger.inject_lambda_context
        @metrics.log_metrics
        @functools.wraps(handler)
        def serve(event: dict[str, Any], context: LambdaContext) -> R:
            begin(context)
            return handler(event, context)

        return serve

    return decorate
