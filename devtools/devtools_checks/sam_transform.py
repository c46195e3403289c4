"""What CloudFormation will see: template.yaml through SAM's transform, then cfn-lint on the result, per stage (and
per Stripe event ingress mode).

`sam validate --lint` and `cfn-lint template.yaml` lint the template before the transform, so they miss what only
the generated resources show: a dependency cycle between the API and a function behind it (the API's definition
refers to the function, so the function cannot refer to the API), or a property SAM refuses to resolve at deploy
time (an intrinsic in a layer's RetentionPolicy). Runs in aws-sam-cli's virtualenv, which has samtranslator and
cfn-lint: `.venv-sam/bin/python -m devtools_checks.sam_transform template.yaml`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

STAGES = ("dev", "prod")
_CFN_LINT = "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"
# Values a deploy would pass: prod's Rules need these two (see samconfig.toml).
DEPLOY_PARAMETERS = {
    "prod": {"AlarmTopicArn": "arn:aws:sns:eu-west-1:111122223333:on-call", "FinanceEmail": "finance@example.com"},
}
# The Stripe event ingress modes besides the default webhook (issue 14), each transformed on the dev stage too.
INGRESS_MODES = ("eventbridge", "both")
PARTNER_EVENT_SOURCE = "aws.partner/stripe.com/ed_test_61Tgbw4tExample"


def variants() -> dict[str, dict[str, str]]:
    """What is transformed and linted: label -> the parameters a deploy would pass."""
    found = {f"Stage={stage}": {"Stage": stage, **DEPLOY_PARAMETERS.get(stage, {})} for stage in STAGES}
    for mode in INGRESS_MODES:
        found[f"Stage=dev StripeEventIngress={mode}"] = {
            "Stage": "dev",
            "StripeEventIngress": mode,
            "StripePartnerEventSourceName": PARTNER_EVENT_SOURCE,
        }
    return found


def transformed(template_path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    from samtranslator.public.translator import ManagedPolicyLoader  # noqa: PLC0415 - only in aws-sam-cli's venv
    from samtranslator.translator.transform import transform  # noqa: PLC0415
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    class _NoManagedPolicies(ManagedPolicyLoader):  # type: ignore[misc]
        def __init__(self) -> None:  # no IAM call: the template names no AWS managed policy by name
            pass

        def load(self) -> dict[str, str]:
            return {}

    template = yaml_parse(template_path.read_text())
    for resource in template["Resources"].values():
        properties = resource.get("Properties") or {}
        # `sam build`/`package` replace local paths with S3 locations before the transform sees them.
        for uri in ("CodeUri", "ContentUri"):
            if uri in properties:
                properties[uri] = f"s3://artifacts/{uri}.zip"
    result: dict[str, Any] = transform(template, parameters, _NoManagedPolicies())
    return result


def lint_errors(document: dict[str, Any]) -> list[str]:
    """cfn-lint's errors (E rules, its default rule set) on the transformed document."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "transformed.json"
        path.write_text(json.dumps(document))
        result = subprocess.run(  # our own interpreter, on a file we wrote
            [sys.executable, "-c", _CFN_LINT, "--format", "parseable", "--", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0 and not result.stdout:  # cfn-lint itself failed: that is no pass
        return [f"cfn-lint failed: {result.stderr.strip()}"]
    # Errors only: warnings on generated resources (e.g. a Sub without variables) are SAM's, not ours.
    return [line for line in result.stdout.splitlines() if ":E" in line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("template", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")  # the transform builds ARNs with a region
    failed = False
    for label, parameters in variants().items():
        try:
            errors = lint_errors(transformed(args.template, parameters))
        except Exception as refusal:  # SAM refusing it (InvalidDocumentException) is a finding
            errors = [f"SAM transform refused it: {refusal}"]
        for error in errors:
            print(f"{args.template} ({label}, transformed): {error}", file=sys.stderr)
        failed = failed or bool(errors)
        print(f"{args.template} ({label}): transformed, {len(errors)} errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
