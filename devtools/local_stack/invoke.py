"""`python -m local_stack.invoke FUNCTION EVENT_FILE` (`make invoke`): the Docker-free `sam local invoke`.

Runs one template function with an `events/` file against the stack `make local` is running (its moto
tables and its Stripe emulator), and prints the result as `sam local invoke` does. Same environment
variables as `make local`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3

from local_stack.lambda_runtime import FunctionError, FunctionNotFound
from local_stack.stack import (
    REGION,
    STRIPE_API_BASE_PARAMETER,
    StackSettings,
    configure_aws_environment,
    make_runner,
)
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.document import load_template


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # something answered
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", help="logical id in template.yaml, e.g. FundersFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/funders/get_funder.json")
    args = parser.parse_args(argv)

    settings = StackSettings.from_environment()
    if not _reachable(settings.aws_endpoint_url):
        print(f"No local stack at {settings.aws_endpoint_url}: start it with `make local` first.", file=sys.stderr)
        return 1
    configure_aws_environment(settings.aws_endpoint_url)
    overrides = dict(settings.parameter_overrides)
    if settings.stripe_api_key is None:
        overrides[STRIPE_API_BASE_PARAMETER] = f"http://{settings.host}:{settings.stripe_port}"
    template = load_template(settings.template_path)
    # The stack created these already; creating again only looks them up (names are stable locally).
    resources = create_aws_resources(
        template,
        session_or_clients=boto3.session.Session(region_name=REGION),
        prefix=settings.stack_name,
        parameter_overrides=overrides,
    )
    event = json.loads(args.event.read_text())
    try:
        # As with sam local invoke: the function's logs on stderr, its result alone on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            invocation = make_runner(settings, template, resources, overrides).invoke(args.function, event)
    except FunctionNotFound:
        print(f"No function {args.function} in {settings.template_path}.", file=sys.stderr)
        return 2
    except FunctionError as error:
        print(json.dumps({"errorType": error.error_type, "errorMessage": error.error_message}))
        return 1
    print(json.dumps(invocation.result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
