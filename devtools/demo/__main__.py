"""`python -m demo` (`make demo`): start the local stack, play the inCytes story against it, stop it.

Exit status: 0 when every step showed what it should; 1 when a step failed (the output names it); 2 when the
stack could not be started or reached. Environment: STRIPE_API_KEY=sk_test_… plays it on Stripe's test mode (the
stack's API then listens on LOCAL_API_PORT, 3000, for `stripe listen --forward-to localhost:3000/stripe/webhook`;
give the stack the secret it prints as STRIPE_WEBHOOK_SECRET); LOCAL_AWS_PORT and STRIPE_EMULATOR_PORT give the
defaults of --aws and --stripe.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

from demo.story import Narrator, Story, Targets, run_steps
from local_stack.process import LocalStackProcess
from local_stack.stack import EMULATOR_API_KEY, StackError, stripe_key_mode
from stripe_emulator.client import EmulatorControl

STACK_OUTPUT_LINES = 40  # of the stack's stderr, shown when a step failed
MAX_CLOCK_AHEAD_SECONDS = 300  # how far ahead of now the API accepts usage (docs: usage_out_of_window)


def clock_moved(emulator_url: str) -> str | None:
    """Why a running stack cannot play the story: usage is dated now (the API refuses usage dated ahead), so an
    emulator whose clock an earlier run moved ahead would start subscriptions after it. The clock never goes back."""
    try:
        ahead = EmulatorControl(emulator_url).now() - time.time()
    except OSError as error:
        return f"no Stripe emulator at {emulator_url} ({error}): give its URL with --stripe"
    if ahead > MAX_CLOCK_AHEAD_SECONDS:
        return (
            f"the Stripe emulator at {emulator_url} is {ahead / 86400:.1f} days ahead of real time (an earlier demo "
            "or test moved its clock): restart `make local`"
        )
    return None


def test_mode_environment(api_key: str | None) -> dict[str, str]:
    """The stack on Stripe's test mode, its API on LOCAL_API_PORT (3000): Stripe's webhooks reach it only through
    `stripe listen --forward-to localhost:3000/stripe/webhook`, which must know the port."""
    return {"STRIPE_API_KEY": api_key or "", "LOCAL_API_PORT": os.environ.get("LOCAL_API_PORT") or "3000"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", help="the API of a running `make local` (default: start a stack for the demo)")
    parser.add_argument("--aws", help="with --api: that stack's moto (default http://127.0.0.1:$LOCAL_AWS_PORT)")
    parser.add_argument(
        "--stripe", help="with --api: that stack's Stripe emulator (default http://127.0.0.1:$STRIPE_EMULATOR_PORT)"
    )
    parser.add_argument("--seats", type=int, default=3, help="seats of the one-click subscription (3)")
    parser.add_argument("--verbose", action="store_true", help="show every API answer as JSON")
    args = parser.parse_args(argv)
    narrator = Narrator(sys.stdout, verbose=args.verbose)

    api_key = os.environ.get("STRIPE_API_KEY") or None
    try:
        test_mode = stripe_key_mode(api_key) == "test"
    except StackError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2
    stripe_api_key = api_key if test_mode and api_key else EMULATOR_API_KEY
    if args.api:
        aws_port = os.environ.get("LOCAL_AWS_PORT") or "5000"
        stripe_port = os.environ.get("STRIPE_EMULATOR_PORT") or "12111"
        targets = Targets(
            api_url=args.api,
            aws_url=args.aws or f"http://127.0.0.1:{aws_port}",
            stripe_api_key=stripe_api_key,
            emulator_url=None if test_mode else (args.stripe or f"http://127.0.0.1:{stripe_port}"),
        )
        if targets.emulator_url is not None and (problem := clock_moved(targets.emulator_url)):
            print(f"demo: {problem} first.", file=sys.stderr)
            return 2
        narrator.say(f"The inCytes story against the running stack at {targets.api_url}", indent=0)
        code = run_steps(Story(targets, narrator, seats=args.seats).steps(), narrator)
        if targets.emulator_url is not None and (problem := clock_moved(targets.emulator_url)):
            narrator.say(f"Note: {problem} to play the demo again.", indent=0)
        return code

    narrator.say("Starting the local stack (moto, the Stripe emulator, the API from template.yaml)...", indent=0)
    started = time.monotonic()
    stack = LocalStackProcess(env=test_mode_environment(api_key) if test_mode else None, startup_timeout=120)
    try:
        stack.start()
    except RuntimeError as error:
        print(f"demo: the local stack did not start: {error}", file=sys.stderr)
        return 2
    try:
        narrator.say(f"Ready in {time.monotonic() - started:.0f} s: API {stack.api_url}", indent=0)
        targets = Targets(
            api_url=stack.api_url,
            aws_url=stack.aws_url,
            stripe_api_key=stripe_api_key,
            emulator_url=None if test_mode else stack.stripe_url,
        )
        code = run_steps(Story(targets, narrator, seats=args.seats).steps(), narrator)
        if code != 0:
            narrator.say(f"\nThe stack's last {STACK_OUTPUT_LINES} lines of stderr:", indent=0)
            narrator.say("\n".join(stack.stderr_lines[-STACK_OUTPUT_LINES:]))
        return code
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
