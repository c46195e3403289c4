"""Cold-start import times with and without the layer's precompiled bytecode.

    python benchmarks/cold_start.py --python python3.13 --layer build/bench/layer [--repeat 15]

(``make bench`` builds the layer and runs this.) Lambda's code directories are read-only, so Python cannot
write bytecode there: what the layer does not ship precompiled is compiled again on every cold start. For
each module below this starts fresh python3.13 processes (``-I -S -B``: no site, no environment, nothing
written) whose sys.path is laid out like Lambda's -- function code, then the layer's ``python/`` directory,
then the runtime's packages (boto3 & co.) -- and times the import:

  (a) the layer as built by layers/shared/Makefile, with its unchecked-hash python3.13 bytecode;
  (b) the same tree with every ``__pycache__`` removed, which is what a plain ``sam build`` ships.

The handler's own code is not precompiled in either case (it is not in the layer). The machine is noisy, so
runs alternate between (a) and (b), the median of ``--repeat`` runs is reported, and the ratio b/a matters
more than the milliseconds. Results go to stdout and, as JSON, to ``--out``.

The layer used here must be built for the host platform (the import runs here, not on arm64 Lambda); the
bytecode is the same for either architecture, only the compiled extensions (pydantic_core) differ.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Lambda Python runtime provides these; they are not in the layer. Taken (precompiled) from the
# project virtualenv, identically for (a) and (b).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "six")
# Enough of a Lambda environment for the handler's import-time configuration; nothing is called.
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
    "FUNDERS_TABLE_NAME": "incytes-billing-funders",
    "STRIPE_API_KEY_PARAMETER": "/incytes-billing/stripe-api-key",
    "STRIPE_API_BASE": "",
}
CHILD = """\
import importlib, sys, time
sys.path[:0] = {paths!r}
t0 = time.perf_counter()
importlib.import_module({module!r})
print((time.perf_counter() - t0) * 1000, len(sys.modules))
"""


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _runtime_dir(dst: Path) -> Path | None:
    """A directory of symlinks to the runtime-provided packages found in this interpreter's environment."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            print(f"note: {name} not found; the handler may not import", file=sys.stderr)
            continue
        origin = Path(spec.origin)
        target = origin.parent if origin.name == "__init__.py" else origin
        (dst / target.name).symlink_to(target)
    return dst


def _run_once(python: str, paths: list[str], module: str) -> tuple[float, int]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",  # -I ignores it; -B does the same
        **LAMBDA_ENV,
    }
    proc = subprocess.run(  # noqa: S603 - our own interpreter and code
        [python, "-I", "-S", "-B", "-c", CHILD.format(paths=paths, module=module)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{proc.stderr.strip()}")
    ms, modules = proc.stdout.split()
    return float(ms), int(modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="python3.13", help="the Lambda runtime's Python (3.13)")
    parser.add_argument("--layer", type=Path, required=True, help="built layer (holding python/), host platform")
    parser.add_argument("--function", type=Path, default=ROOT / "functions" / "funders")
    parser.add_argument("--handler-module", default="app")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "cold_start.json")
    args = parser.parse_args(argv)

    version = subprocess.run(  # noqa: S603
        [args.python, "-c", "import sys, platform; print(sys.version.split()[0], platform.machine())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not version[0].startswith("3.13."):
        print(f"warning: {args.python} is Python {version[0]}, not the Lambda runtime's 3.13", file=sys.stderr)

    layer_a = (args.layer / "python").resolve()
    layer_b = (args.work / "layer-no-bytecode" / "python").resolve()
    _copy_tree(layer_a, layer_b)
    runtime = _runtime_dir((args.work / "runtime").resolve())
    modules = ["stripe", "pydantic", "aws_lambda_powertools.event_handler"]
    function: Path | None = None
    if (args.function / f"{args.handler_module}.py").is_file():
        function = (args.work / "function").resolve()
        _copy_tree(args.function, function)
        modules.append(args.handler_module)
    else:
        print(f"note: {args.function}/{args.handler_module}.py does not exist yet; handler not measured")

    def paths(layer: Path) -> list[str]:
        return [str(p) for p in (function, layer, runtime) if p is not None]

    variants = {"a": paths(layer_a), "b": paths(layer_b)}
    results = []
    failed = False
    for module in modules:
        samples: dict[str, list[float]] = {"a": [], "b": []}
        loaded = 0
        try:
            for variant_paths in variants.values():  # warm the page cache; not measured
                _run_once(args.python, variant_paths, module)
            for i in range(args.repeat):
                for variant in ("a", "b") if i % 2 == 0 else ("b", "a"):
                    ms, loaded = _run_once(args.python, variants[variant], module)
                    samples[variant].append(ms)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        a, b = statistics.median(samples["a"]), statistics.median(samples["b"])
        results.append(
            {
                "module": module,
                "modules_loaded": loaded,
                "with_bytecode_ms": round(a, 1),
                "without_bytecode_ms": round(b, 1),
                "ratio_b_over_a": round(b / a, 2),
                "samples_ms": {k: [round(x, 1) for x in v] for k, v in samples.items()},
            }
        )

    host = platform.machine()
    report = {
        "python": args.python,
        "python_version": version[0],
        "machine": version[1],
        "repeat": args.repeat,
        "statistic": "median of fresh-process import times",
        "layer": str(args.layer),
        "layer_note": (
            f"host-platform ({host}) build of the shared layer (same Makefile, PIP_PLATFORM for {host}); "
            "Lambda gets the arm64 build, whose bytecode is identical"
        ),
        "variant_a": "layer with its unchecked-hash python3.13 bytecode (layers/shared/Makefile)",
        "variant_b": "same layer without __pycache__ (what plain sam build ships)",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\nCold-start imports: Python {version[0]} on {version[1]}, fresh process, median of {args.repeat}")
    print(f"layer: {report['layer_note']}")
    print(f"  {'module':<38} {'(a) bytecode':>13} {'(b) none':>10} {'b/a':>6} {'modules':>8}")
    for r in results:
        print(
            f"  {r['module']:<38} {r['with_bytecode_ms']:>10.1f} ms {r['without_bytecode_ms']:>7.1f} ms "
            f"{r['ratio_b_over_a']:>6.2f} {r['modules_loaded']:>8}"
        )
    print(f"(a) {report['variant_a']}\n(b) {report['variant_b']}\nwritten to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
