"""`python -m load` (`make load`): a bounded, repeatable load run on the local stack, its report and its audit.

Starts the Docker-free local stack on free ports (or uses a running one: `--api`, `--aws`, `--stripe`), creates
funders with subscriptions over HTTP, sends the usage mix (seeded) with a window where Stripe refuses meter events
(429), moves the emulator's clock to the end of the period (the renewal day), then audits that every record was
billed exactly once. Writes the report to build/load/report.md and prints it. Exit status: 0 when the audit
passed, 1 when it failed, 2 when no stack could be started or reached.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from demo.__main__ import clock_moved
from demo.story import Targets
from load.report import audit_passed, render
from load.run import LoadRun, LoadSettings
from local_stack.process import PROJECT_ROOT, LocalStackProcess
from local_stack.stack import EMULATOR_API_KEY

STACK_OUTPUT_LINES = 40  # of the stack's stderr, shown when the run failed
DEFAULT_REPORT = PROJECT_ROOT / "build" / "load" / "report.md"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    defaults = LoadSettings()
    parser = argparse.ArgumentParser(prog="python -m load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", help="the API of a running `make local` (default: start a stack for the run)")
    parser.add_argument("--aws", help="with --api: that stack's moto (default http://127.0.0.1:$LOCAL_AWS_PORT)")
    parser.add_argument(
        "--stripe", help="with --api: its Stripe emulator (default http://127.0.0.1:$STRIPE_EMULATOR_PORT)"
    )
    parser.add_argument("--funders", type=int, default=defaults.funders, help=f"funders ({defaults.funders})")
    parser.add_argument("--records", type=int, default=defaults.records, help=f"usage records ({defaults.records})")
    parser.add_argument(
        "--concurrency", type=int, default=defaults.concurrency, help=f"clients ({defaults.concurrency})"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"of the mix ({defaults.seed})")
    parser.add_argument(
        "--seconds",
        type=float,
        default=defaults.ingest_seconds,
        help=f"no usage request starts after this ({defaults.ingest_seconds:.0f})",
    )
    parser.add_argument(
        "--stripe-429",
        type=float,
        default=defaults.stripe_429_seconds,
        metavar="SECONDS",
        help=f"Stripe refuses meter events this long, from the second third of the usage on; 0: never "
        f"({defaults.stripe_429_seconds:.0f})",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=defaults.drain_seconds,
        help=f"how long to wait for the reporter to catch up ({defaults.drain_seconds:.0f})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT, help="the report (build/load/report.md)")
    return parser.parse_args(argv)


def run(targets: Targets, settings: LoadSettings, out: Path) -> int:
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    load = LoadRun(targets, settings, log)
    log(f"load: {settings.funders} funders with subscriptions...")
    load.set_up_funders()
    requests = load.plan()
    log(f"load: {len(requests)} usage requests, Stripe 429s for {settings.stripe_429_seconds:.0f} s in the middle...")
    load.ingest(requests)
    log("load: the renewal day...")
    load.renewal_day()
    log("load: the audit...")
    load.audit()
    report = render(load.figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)
    print(f"(written to {out})", file=sys.stderr)
    return 0 if audit_passed(load.figures) else 1


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    settings = LoadSettings(
        funders=args.funders,
        records=args.records,
        concurrency=args.concurrency,
        seed=args.seed,
        ingest_seconds=args.seconds,
        stripe_429_seconds=args.stripe_429,
        drain_seconds=args.drain_seconds,
    )
    if args.api:
        targets = Targets(
            api_url=args.api,
            aws_url=args.aws or f"http://127.0.0.1:{os.environ.get('LOCAL_AWS_PORT') or '5000'}",
            stripe_api_key=EMULATOR_API_KEY,
            emulator_url=args.stripe or f"http://127.0.0.1:{os.environ.get('STRIPE_EMULATOR_PORT') or '12111'}",
        )
        if targets.emulator_url is not None and (problem := clock_moved(targets.emulator_url)):
            print(f"load: {problem} first.", file=sys.stderr)
            return 2
        return run(targets, settings, args.out)

    started = time.monotonic()
    stack = LocalStackProcess(startup_timeout=120)  # never given STRIPE_API_KEY: the run needs the emulator
    try:
        stack.start()
    except RuntimeError as error:
        print(f"load: the local stack did not start: {error}", file=sys.stderr)
        return 2
    print(f"load: stack ready in {time.monotonic() - started:.0f} s, API {stack.api_url}", file=sys.stderr)
    try:
        code = run(Targets(stack.api_url, stack.aws_url, EMULATOR_API_KEY, stack.stripe_url), settings, args.out)
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            stack.stop()
    if code != 0:  # the stack's last words, read once it stopped
        print("\n".join(stack.stderr_lines[-STACK_OUTPUT_LINES:]), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
