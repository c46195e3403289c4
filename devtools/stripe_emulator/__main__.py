"""``python -m stripe_emulator [--host H] [--port P] [--webhook-retry-delays 60,300,...] [--aws-endpoint-url URL]``:
run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .emulator import StripeEmulator
from .webhooks import DEFAULT_RETRY_DELAYS, DEFAULT_TIMEOUT

DEFAULT_PORT = 12111


def _delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of seconds: {text!r}") from None
    if any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError(f"delays must be >= 0: {text!r}")
    return delays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stripe_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("STRIPE_EMULATOR_PORT", DEFAULT_PORT)),
        help="port to listen on (0: any free port); default $STRIPE_EMULATOR_PORT or 12111",
    )
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=DEFAULT_RETRY_DELAYS,
        metavar="S,S,...",
        help="seconds before each retry of a failed webhook delivery (default: ten retries over ~3 days; '' for none)",
    )
    parser.add_argument(
        "--webhook-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds a webhook receiver has to answer (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--aws-endpoint-url",
        default=None,
        metavar="URL",
        help="where Amazon EventBridge event destinations create their partner event source and put events "
        "(e.g. a moto server, http://127.0.0.1:5000); default boto3's: $AWS_ENDPOINT_URL, else AWS",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")

    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    emulator = StripeEmulator(
        args.host,
        args.port,
        webhook_retry_delays=args.webhook_retry_delays,
        webhook_timeout=args.webhook_timeout,
        aws_endpoint_url=args.aws_endpoint_url,
    )
    try:
        url = emulator.start()
    except OSError as error:
        print(f"Stripe emulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(f"Stripe emulator listening on {url}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
