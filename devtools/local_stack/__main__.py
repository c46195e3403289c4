"""`python -m local_stack` (`make local`): the Docker-free local stack on embedded defaults.

Environment (all optional):
  LOCAL_HOST                 interface to listen on (127.0.0.1)
  LOCAL_API_PORT             the API (3000)
  LOCAL_AWS_PORT             moto server (5000)
  STRIPE_EMULATOR_PORT       the Stripe emulator (12111)
  STRIPE_API_KEY             a Stripe *test* key (sk_test_...): talk to Stripe's test mode instead of the emulator
  STRIPE_WEBHOOK_SECRET      webhook signing secret given to the functions (whsec_local)
  STRIPE_EMULATOR_METER_LAG_SECONDS  how long the emulator's meter summaries and invoices take to see a meter
                             event (60; Stripe documents a lag without a figure; 0 counts at once)
  LOCAL_PARAMETER_OVERRIDES  template parameters, "LogLevel=DEBUG Stage=dev"
  LOCAL_VERBOSE              1: as --verbose

Quiet by default: one line per API request, and warnings and errors. State is in memory (moto, the emulator)
and lost when the stack stops.

The API does not check SigV4 signatures (the routes' AWS_IAM authorizer): call it with plain curl.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from local_stack.console import VERBOSE_VARIABLE, configure_logging, verbose_from_environment
from local_stack.stack import DEFAULT_TEMPLATE, LocalStack, StackError, StackSettings


class _StopRequested(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="SAM template (template.yaml)")
    parser.add_argument("--skip-catalog", action="store_true", help="do not run the Stripe catalog bootstrap")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help=f"the handlers' JSON logs and metrics, and the stack's debug details (also {VERBOSE_VARIABLE}=1)",
    )
    args = parser.parse_args(argv)
    verbose = args.verbose or verbose_from_environment(os.environ)
    configure_logging(verbose)

    stop = threading.Event()
    ready = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            print("Forced exit.", file=sys.stderr, flush=True)
            raise SystemExit(1)
        stop.set()
        if not ready.is_set():
            raise _StopRequested  # interrupt the start-up wherever it is

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    stack: LocalStack | None = None
    try:
        settings = StackSettings.from_environment(
            template_path=args.template, run_catalog=not args.skip_catalog, verbose=verbose
        )
        stack = LocalStack(settings)
        lines = stack.start()
        for line in lines:
            print(line, flush=True)
        print("Ready. Ctrl-C to stop.", flush=True)
        ready.set()
        while not stop.wait(1.0):
            pass
        print("Stopping...", file=sys.stderr, flush=True)
    except _StopRequested:
        print("Interrupted during start-up.", file=sys.stderr, flush=True)
    except StackError as error:
        print(f"local stack: {error}", file=sys.stderr, flush=True)
        if stack is not None:
            stack.stop()
        return 1
    except Exception:
        logging.getLogger("local_stack").exception("local stack failed to start")
        if stack is not None:
            stack.stop()
        return 1
    if stack is not None:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
