"""``python -m stripe_emulator [--host H] [--port P]``: run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .emulator import StripeEmulator

DEFAULT_PORT = 12111


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stripe_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("STRIPE_EMULATOR_PORT", DEFAULT_PORT)),
        help="port to listen on (0: any free port); default $STRIPE_EMULATOR_PORT or 12111",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")

    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    emulator = StripeEmulator(args.host, args.port)
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
