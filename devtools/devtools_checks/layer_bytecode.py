"""Check a built Lambda layer: python3.13 bytecode that needs no source timestamps, arm64 binaries, no boto3.

    python -m devtools_checks.layer_bytecode .aws-sam/build/SharedLayer [--arch aarch64] [--require PKG]

Lambda's code directories are read-only, so Python cannot cache bytecode there: whatever the layer does not
ship precompiled is recompiled on every cold start. The layer therefore ships PEP 552 hash-based .pyc files
with the ``check_source`` flag off ("unchecked-hash", header flags == 1), which the import system uses
without reading the source (zip files do not keep source timestamps exactly, so timestamp-based .pyc files
would be ignored). Verified here, for the layer's ``python/`` directory (Lambda puts /opt/python on sys.path):

- every ``.py`` has ``__pycache__/<name>.cpython-313.pyc`` with Python 3.13's magic number and flags == 1,
  and, when this runs under 3.13, the source hash recorded in it matches the shipped source;
- every ELF file (compiled extensions, bundled shared libraries) is 64-bit for the Lambda architecture
  (``e_machine`` 183 = EM_AARCH64 for arm64), so no x86 ``pydantic_core`` ships to arm64;
- boto3/botocore/s3transfer (the runtime provides them) and aiohttp (``import stripe`` loads it if present,
  ~90 ms) are absent.

Exit status: 0 when all checks pass, 1 otherwise (2 for bad arguments). Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# Python 3.13's bytecode magic number (3571), as importlib.util.MAGIC_NUMBER spells it under 3.13.
MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"
CACHE_TAG_313 = "cpython-313"
# PEP 552: the 32-bit word after the magic. Bit 0: hash-based; bit 1: check_source.
FLAGS_UNCHECKED_HASH = 0b01
ELF_MACHINES = {"aarch64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64
FORBIDDEN = ("boto3", "botocore", "s3transfer", "aiohttp")
MAX_LISTED = 25


@dataclass
class LayerReport:
    """What check_layer found; ``problems`` empty means the layer passes."""

    site: Path
    files: int = 0
    size_bytes: int = 0
    py_files: int = 0
    pyc_ok: int = 0
    elf_files: int = 0
    source_hash_checked: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1_000_000


def _pyc_problem(pyc: Path, source: Path, magic: bytes, check_hash: bool) -> str | None:
    try:
        header = pyc.read_bytes()[:16]
    except OSError as exc:
        return f"{pyc}: unreadable ({exc.strerror})"
    if len(header) < 16:
        return f"{pyc}: truncated header"
    if header[:4] != magic:
        return f"{pyc}: magic {header[:4]!r} is not the expected {magic!r}"
    flags = int.from_bytes(header[4:8], "little")
    if flags != FLAGS_UNCHECKED_HASH:
        kind = {0: "timestamp-based", 0b11: "checked-hash"}.get(flags, f"unknown flags {flags}")
        return f"{pyc}: {kind} .pyc (header flags {flags}), expected unchecked-hash (flags 1)"
    if check_hash and header[8:16] != importlib.util.source_hash(source.read_bytes()):
        return f"{pyc}: stale, its source hash does not match {source.name}"
    return None


def _elf_problem(path: Path, machine: str) -> tuple[bool, str | None]:
    """(is_elf, problem) for one file; reads only the ELF header."""
    try:
        with path.open("rb") as fh:
            head = fh.read(20)
    except OSError as exc:
        return False, f"{path}: unreadable ({exc.strerror})"
    if head[:4] != b"\x7fELF":
        return False, None
    if len(head) < 20:
        return True, f"{path}: truncated ELF header"
    byteorder: Literal["little", "big"] = "little" if head[5] == 1 else "big"
    e_machine = int.from_bytes(head[18:20], byteorder)
    wanted = ELF_MACHINES[machine]
    if head[4] != 2 or e_machine != wanted:
        names = {v: k for k, v in ELF_MACHINES.items()}
        found = names.get(e_machine, f"e_machine {e_machine}")
        bits = 64 if head[4] == 2 else 32
        return True, f"{path}: ELF {bits}-bit {found}, expected 64-bit {machine} (e_machine {wanted})"
    return True, None


def _forbidden_name(name: str, forbidden: Iterable[str]) -> str | None:
    for pkg in forbidden:
        if name in (pkg, f"{pkg}.py") or (name.startswith(f"{pkg}-") and name.endswith(".dist-info")):
            return pkg
    return None


def check_layer(
    layer_dir: str | os.PathLike[str],
    *,
    machine: str = "aarch64",
    cache_tag: str = CACHE_TAG_313,
    magic: bytes = MAGIC_313,
    require: Sequence[str] = (),
    forbidden: Sequence[str] = FORBIDDEN,
) -> LayerReport:
    """Check the layer whose ``python/`` directory is under ``layer_dir`` (see the module docstring)."""
    site = Path(layer_dir) / "python"
    report = LayerReport(site=site)
    if not site.is_dir():
        report.problems.append(f"{site}: missing; Lambda only puts the layer's python/ on sys.path")
        return report
    # Source hashes use a key derived from the running interpreter's magic number.
    report.source_hash_checked = magic == importlib.util.MAGIC_NUMBER

    for dirpath, dirnames, filenames in os.walk(site):
        here = Path(dirpath)
        for name in dirnames + filenames:
            pkg = _forbidden_name(name, forbidden)
            if pkg is not None:
                report.problems.append(f"{here / name}: {pkg} must not be in the layer")
        for name in filenames:
            path = here / name
            report.files += 1
            report.size_bytes += path.lstat().st_size
            if path.is_symlink():
                continue
            is_elf, problem = _elf_problem(path, machine)
            report.elf_files += is_elf
            if problem:
                report.problems.append(problem)
            if name.endswith(".py"):
                report.py_files += 1
                pyc = here / "__pycache__" / f"{name[:-3]}.{cache_tag}.pyc"
                if not pyc.is_file():
                    report.problems.append(f"{path}: no __pycache__/{pyc.name}")
                    continue
                problem = _pyc_problem(pyc, path, magic, report.source_hash_checked)
                if problem:
                    report.problems.append(problem)
                else:
                    report.pyc_ok += 1

    for pkg in require:
        if not ((site / pkg / "__init__.py").is_file() or (site / f"{pkg}.py").is_file()):
            report.problems.append(f"{site}: required package {pkg} is missing")
    return report


def format_report(report: LayerReport, machine: str) -> str:
    summary = (
        f"{report.site.parent}: {report.files} files, {report.size_mb:.1f} MB; "
        f"{report.pyc_ok}/{report.py_files} .py with unchecked-hash .pyc"
        f"{'' if report.source_hash_checked else ' (source hashes not verified: not running on 3.13)'}; "
        f"{report.elf_files} ELF files ({machine})"
    )
    if report.ok:
        return f"layer_bytecode OK  {summary}; no {'/'.join(FORBIDDEN)}"
    lines = [f"layer_bytecode FAIL  {summary}; {len(report.problems)} problem(s):"]
    lines += [f"  {p}" for p in report.problems[:MAX_LISTED]]
    if len(report.problems) > MAX_LISTED:
        lines.append(f"  ... and {len(report.problems) - MAX_LISTED} more")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools_checks.layer_bytecode", description=__doc__)
    parser.add_argument("layer_dir", help="built layer directory (the one holding python/)")
    parser.add_argument("--arch", choices=sorted(ELF_MACHINES), default="aarch64", help="Lambda architecture")
    parser.add_argument(
        "--require", action="append", default=[], metavar="PKG", help="top-level package that must be there"
    )
    args = parser.parse_args(argv)
    report = check_layer(args.layer_dir, machine=args.arch, require=args.require)
    print(format_report(report, args.arch))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
