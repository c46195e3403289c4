"""Cold start of every function beside its floors (issue 12 §1), as ratios.

    python benchmarks/cold_start.py --python python3.13 --layer build/bench/layer [--repeat 7]

(``make bench`` builds the layer and runs this.) Each sample is a fresh python3.13 process (``-I -S -B``: no
site, no environment, nothing written; Lambda's code directories are read-only) whose sys.path is laid out
like Lambda's -- the function's code, then the layer's ``python/`` directory with its precompiled bytecode,
then the runtime's packages (boto3 & co.) -- timing what Lambda's init does: importing the handler module.
The time is the process's CPU time for it: on a shared machine wall time measures the neighbours too (the
files are in the page cache after a first unmeasured round, so little else is left to wait for).

Beside each function, in the same run, interleaved round by round (the machine is noisy: the milliseconds
move between runs, the ratios hold), the median of ``--repeat`` rounds of:

- *sdk* floor: ``import boto3``, plus ``stripe`` where the function loads it (its ``StripeClient``: like
  pydantic, ``stripe`` imports its parts when first asked for them);
- *framework* floor: the sdk floor plus what the function's kind needs at init from Powertools and pydantic
  (``FRAMEWORK``): a validated API the REST resolver, OpenAPI params and pydantic's ``BaseModel``; the webhook
  (its body stays raw, for its signature) the REST resolver; the SQS consumer Logger, Metrics and the batch
  processor; a stream or schedule worker Logger and Metrics. Nothing the function does not use at init: a floor
  holding it would hide the function's own cost (the workers build their pydantic models when a request first
  needs them; the run warns when a function loads pydantic or stripe at init that its floors leave out);
- *naive*: one handler importing boto3, stripe, pydantic, Logger, Metrics, Tracer, the REST resolver,
  idempotency, batch and parser;
- the funders handler on the same layer without its bytecode (what a plain ``sam build`` ships).

Writes the markdown table to ``--out`` (and the samples, as JSON, beside it) and prints it.
The layer must be built for the host platform (the import runs here, not on arm64 Lambda); the bytecode is
the same for either architecture, only the compiled extensions (pydantic_core) differ.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Lambda Python runtime provides these; they are not in the layer. Taken (precompiled) from the
# project virtualenv.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "six")
# Enough of a Lambda environment for the handlers' import-time configuration; nothing is called.
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "incytes-billing",
    "POWERTOOLS_METRICS_NAMESPACE": "InCytesBilling",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_DEV": "false",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
SDK = "import boto3"
# `import stripe` and `import pydantic` alone load little (both import their parts when first asked for them):
# what a function needs from them is a client and a model.
STRIPE = "from stripe import StripeClient"
PYDANTIC = "from pydantic import BaseModel"
REST_RESOLVER = "from aws_lambda_powertools.event_handler import APIGatewayRestResolver"
LOGGER_METRICS = "from aws_lambda_powertools import Logger, Metrics"
FRAMEWORK = {
    "api": (
        REST_RESOLVER,
        "from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query",
        PYDANTIC,
    ),
    "webhook": (REST_RESOLVER,),
    "queue": (LOGGER_METRICS, "from aws_lambda_powertools.utilities.batch import BatchProcessor"),
    "worker": (LOGGER_METRICS,),
}
NAIVE = (
    "import boto3",
    STRIPE,
    PYDANTIC,
    "from aws_lambda_powertools import Logger, Metrics, Tracer",
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver",
    "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent",
    "from aws_lambda_powertools.utilities.batch import BatchProcessor",
    "from aws_lambda_powertools.utilities.parser import event_parser",
)


@dataclass(frozen=True)
class Function:
    name: str  # its directory under functions/
    kind: str  # which framework floor: a key of FRAMEWORK
    stripe: bool  # loads the Stripe SDK at init: its floors include it


FUNCTIONS = (
    # Reading a funder, listing invoices and most Stripe events call no Stripe API: those functions load Stripe
    # with the first request that does.
    Function("funders", "api", stripe=False),
    Function("subscriptions", "api", stripe=True),
    Function("invoices", "api", stripe=False),
    Function("usage", "api", stripe=False),
    Function("webhook", "webhook", stripe=True),
    Function("webhook_processor", "queue", stripe=False),
    Function("usage_reporter", "worker", stripe=True),
    Function("review_reminder", "worker", stripe=False),
    Function("reconciler", "worker", stripe=True),
)
CHILD = """\
import sys, time
sys.path[:0] = {paths!r}
t0 = time.process_time()
exec({code!r})
print((time.process_time() - t0) * 1000, len(sys.modules), "stripe" in sys.modules, "pydantic.main" in sys.modules)
"""


# Instruction counts (--instructions): CPU time on a shared virtual machine varies by 10-20 % between samples (the
# neighbours' load, frequency), which hides a 10 % goal; the instructions a process runs do not (deterministic to
# 0.01 %). Counted only inside the child's `exec` of the import (builtin_exec), not the interpreter's own start.
CALLGRIND = (
    "valgrind",
    "--tool=callgrind",
    "--callgrind-out-file=/dev/null",
    "--collect-atstart=no",
    "--toggle-collect=builtin_exec*",
)


@dataclass(frozen=True)
class Variant:
    name: str
    code: str  # what the timed part of the process runs
    paths: tuple[str, ...]


def sdk_floor(function: Function) -> str:
    return "sdk+stripe" if function.stripe else "sdk"


def framework_floor(function: Function) -> str:
    return f"{function.kind}+stripe" if function.stripe else function.kind


def floors(base: tuple[str, ...]) -> list[Variant]:
    """The sdk floors, the framework floors some function has, and naive."""
    variants = [Variant("sdk", SDK, base), Variant("sdk+stripe", f"{SDK}\n{STRIPE}", base)]
    for kind, lines in FRAMEWORK.items():
        if any(f.kind == kind and not f.stripe for f in FUNCTIONS):
            variants.append(Variant(kind, "\n".join((SDK, *lines)), base))
        if any(f.kind == kind and f.stripe for f in FUNCTIONS):
            variants.append(Variant(f"{kind}+stripe", "\n".join((SDK, STRIPE, *lines)), base))
    variants.append(Variant("naive", "\n".join(NAIVE), base))
    return variants


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _runtime_dir(dst: Path) -> Path:
    """A directory of symlinks to the runtime-provided packages found in this interpreter's environment."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            print(f"note: {name} not found; the handlers may not import", file=sys.stderr)
            continue
        origin = Path(spec.origin)
        target = origin.parent if origin.name == "__init__.py" else origin
        (dst / target.name).symlink_to(target)
    return dst


def _run_once(python: str, variant: Variant, *, instructions: bool = False) -> tuple[float, int, tuple[bool, bool]]:
    """One fresh process: the import's CPU ms (or, with `instructions`, the millions of instructions it ran, counted
    by valgrind's callgrind inside the `exec` of the import only), the modules loaded, whether stripe and pydantic
    were loaded."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **LAMBDA_ENV}
    command = [python, "-I", "-S", "-B", "-c", CHILD.format(paths=list(variant.paths), code=variant.code)]
    if instructions:
        command = [*CALLGRIND, *command]
    proc = subprocess.run(  # noqa: S603 - our own interpreter and code
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=False,
        timeout=600 if instructions else 120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{variant.name} failed:\n{proc.stderr.strip()}")
    ms, modules, stripe_loaded, pydantic_loaded = proc.stdout.split()
    measured = float(ms)
    if instructions:
        counted = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
        if counted is None:
            raise RuntimeError(f"{variant.name}: no instruction count from valgrind:\n{proc.stderr.strip()}")
        measured = int(counted.group(1).replace(",", "")) / 1e6
    return measured, int(modules), (stripe_loaded == "True", pydantic_loaded == "True")


def table(medians: dict[str, float], modules: dict[str, int], unit: str = "ms") -> str:
    lines = [
        f"| function | {unit} | modules | × sdk floor | × framework floor | × naive |",
        "|---|---|---|---|---|---|",
    ]
    for function in FUNCTIONS:
        ms = medians[function.name]
        lines.append(
            f"| {function.name} | {ms:.0f} | {modules[function.name]} "
            f"| {ms / medians[sdk_floor(function)]:.2f} "
            f"| {ms / medians[framework_floor(function)]:.2f} | {ms / medians['naive']:.2f} |"
        )
    return "\n".join(lines)


def floor_table(medians: dict[str, float], modules: dict[str, int], names: list[str], unit: str = "ms") -> str:
    lines = [f"| floor | {unit} | modules |", "|---|---|---|"]
    lines += [f"| {name} | {medians[name]:.0f} | {modules[name]} |" for name in names]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="python3.13", help="the Lambda runtime's Python (3.13)")
    parser.add_argument("--layer", type=Path, required=True, help="built layer (holding python/), host platform")
    parser.add_argument("--repeat", type=int, default=7, help="rounds; each runs every variant once")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "cold_start.md")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each variant's instructions once under valgrind (deterministic; ~30 s a variant) instead of timing",
    )
    args = parser.parse_args(argv)

    version = subprocess.run(  # noqa: S603
        [args.python, "-c", "import sys, platform; print(sys.version.split()[0], platform.machine())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not version[0].startswith("3.13."):
        print(f"warning: {args.python} is Python {version[0]}, not the Lambda runtime's 3.13", file=sys.stderr)

    layer = str((args.layer / "python").resolve())
    layer_without_bytecode = (args.work / "layer-no-bytecode" / "python").resolve()
    _copy_tree(Path(layer), layer_without_bytecode)
    runtime = str(_runtime_dir((args.work / "runtime").resolve()))
    base = (layer, runtime)
    variants = floors(base)
    floor_names = [v.name for v in variants]
    for function in FUNCTIONS:
        code = (args.work / "functions" / function.name).resolve()
        _copy_tree(ROOT / "functions" / function.name, code)
        variants.append(Variant(function.name, "import app", (str(code), *base)))
    funders_code = variants[-len(FUNCTIONS)].paths[0]
    variants.append(Variant("funders, no bytecode", "import app", (funders_code, str(layer_without_bytecode), runtime)))

    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    modules: dict[str, int] = {}
    loads: dict[str, tuple[bool, bool]] = {}  # (stripe, pydantic) loaded at init
    if args.instructions:  # one count each suffices: the count does not vary
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counted = pool.map(lambda variant: _run_once(args.python, variant, instructions=True), variants)
            for variant, (count, modules[variant.name], loads[variant.name]) in zip(variants, counted, strict=True):
                samples[variant.name].append(count)
    else:
        for variant in variants:  # warm the page cache; not measured
            _run_once(args.python, variant)
        for round_ in range(args.repeat):
            shift = round_ % len(variants)  # each round starts elsewhere: no variant always runs first
            for variant in variants[shift:] + variants[:shift]:
                ms, modules[variant.name], loads[variant.name] = _run_once(args.python, variant)
                samples[variant.name].append(ms)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    unit = "M instructions" if args.instructions else "ms"
    statistic = (
        "instructions run by the import (millions), valgrind callgrind, one fresh process each"
        if args.instructions
        else f"median of {args.repeat} fresh processes, all variants interleaved"
    )

    for function in FUNCTIONS:  # the floors assume it: say so when the code no longer does
        floor_loads = loads[framework_floor(function)]
        for package, loaded, assumed in zip(("stripe", "pydantic"), loads[function.name], floor_loads, strict=True):
            if loaded != assumed:
                verb = "loads" if loaded else "does not load"
                print(
                    f"warning: {function.name} {verb} {package} at init; its floors assume otherwise", file=sys.stderr
                )
    bytecode_ratio = medians["funders, no bytecode"] / medians["funders"]
    markdown = (
        f"Cold start (handler import, {unit}), Python {version[0]} on {version[1]}, `-I -S -B`, layer bytecode, "
        f"{statistic}\n\n"
        f"{table(medians, modules, unit)}\n\n{floor_table(medians, modules, floor_names, unit)}\n\n"
        f"Without the layer's bytecode (plain `sam build`) funders starts {bytecode_ratio:.2f}× slower.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown)
    report = {
        "python_version": version[0],
        "machine": version[1],
        "repeat": 1 if args.instructions else args.repeat,
        "statistic": statistic,
        "unit": unit,
        "medians": {name: round(value, 1) for name, value in medians.items()},
        "modules_loaded": modules,
        "samples": {name: [round(x, 1) for x in values] for name, values in samples.items()},
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{markdown}\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
