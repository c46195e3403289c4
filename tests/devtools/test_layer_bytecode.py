"""devtools_checks.layer_bytecode on tiny synthetic layers (runs under whatever Python runs pytest)."""

from __future__ import annotations

import importlib.util
import py_compile
import sys
from pathlib import Path
from typing import TypedDict

import pytest

from devtools_checks.layer_bytecode import check_layer, main

# The synthetic .pyc files are written by the running interpreter: check them against its own version.


class Interpreter(TypedDict):
    cache_tag: str
    magic: bytes


HERE: Interpreter = {"cache_tag": sys.implementation.cache_tag, "magic": importlib.util.MAGIC_NUMBER}
UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH


@pytest.fixture(autouse=True)
def bytecode_beside_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer's .pyc files sit in `__pycache__` beside its sources, where Lambda reads them: the test run's own
    bytecode directory (`PYTHONPYCACHEPREFIX`, the Makefile's) must not move the ones these tests write."""
    monkeypatch.setattr(sys, "pycache_prefix", None)


def _compile_tree(site: Path, mode: py_compile.PycInvalidationMode = UNCHECKED) -> None:
    for source in site.rglob("*.py"):
        py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)), invalidation_mode=mode)


def _elf_header(e_machine: int) -> bytes:
    # e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT; then e_type (ET_DYN) and e_machine.
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    return ident + (3).to_bytes(2, "little") + e_machine.to_bytes(2, "little") + bytes(44)


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    site = tmp_path / "python"
    (site / "pkg" / "sub").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (site / "pkg" / "sub" / "__init__.py").write_text("")
    (site / "pkg" / "sub" / "mod.py").write_text("def f() -> int:\n    return 2\n")
    (site / "pkg" / "catalog.toml").write_text("[seat]\namount = 3500\n")
    (site / "pkg" / "_speedups.cpython-313-aarch64-linux-gnu.so").write_bytes(_elf_header(183))
    (site / "single.py").write_text("X = 3\n")
    _compile_tree(site)
    return tmp_path


def test_unchecked_hash_layer_passes(layer: Path) -> None:
    report = check_layer(layer, require=["pkg", "single"], **HERE)

    assert report.problems == []
    assert (report.py_files, report.pyc_ok, report.elf_files) == (4, 4, 1)
    assert report.source_hash_checked


def test_timestamp_pyc_fails(layer: Path) -> None:
    _compile_tree(layer / "python", py_compile.PycInvalidationMode.TIMESTAMP)

    report = check_layer(layer, **HERE)

    assert len(report.problems) == 4
    assert all("timestamp-based" in p for p in report.problems)


def test_checked_hash_pyc_fails(layer: Path) -> None:
    source = layer / "python" / "single.py"
    py_compile.compile(
        str(source),
        cfile=importlib.util.cache_from_source(str(source)),
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )

    problems = check_layer(layer, **HERE).problems

    assert len(problems) == 1
    assert "checked-hash" in problems[0]


def test_missing_and_stale_pyc_fail(layer: Path) -> None:
    site = layer / "python"
    (site / "pkg" / "new.py").write_text("Y = 4\n")  # never compiled
    (site / "single.py").write_text("X = 30\n")  # changed after compiling

    problems = check_layer(layer, **HERE).problems

    assert len(problems) == 2
    assert any("new.py" in p and "no __pycache__" in p for p in problems)
    assert any("stale" in p and "single.py" in p for p in problems)


def test_wrong_python_version_fails(layer: Path) -> None:
    problems = check_layer(layer, cache_tag="cpython-313", magic=b"\x00\x00\r\n").problems

    if sys.implementation.cache_tag == "cpython-313":
        assert problems
        assert all("magic" in p for p in problems)
    else:
        assert all("no __pycache__" in p for p in problems)


def test_x86_extension_fails_on_arm64(layer: Path) -> None:
    (layer / "python" / "pkg" / "_other.cpython-313-x86_64-linux-gnu.so").write_bytes(_elf_header(62))

    problems = check_layer(layer, **HERE).problems
    assert len(problems) == 1
    assert "x86_64" in problems[0]
    assert "expected 64-bit aarch64" in problems[0]

    assert len(check_layer(layer, machine="x86_64", **HERE).problems) == 1  # now the arm64 one is wrong


@pytest.mark.parametrize("name", ["boto3", "botocore", "aiohttp"])
def test_forbidden_packages_fail(layer: Path, name: str) -> None:
    (layer / "python" / name).mkdir()
    (layer / "python" / f"{name}-1.0.dist-info").mkdir()

    problems = check_layer(layer, **HERE).problems

    assert len(problems) == 2
    assert all(f"{name} must not be in the layer" in p for p in problems)


def test_missing_python_dir_and_required_package(tmp_path: Path, layer: Path) -> None:
    assert "python/" in check_layer(tmp_path / "empty", **HERE).problems[0]
    assert "required package stripe" in check_layer(layer, require=["stripe"], **HERE).problems[0]


def test_cli_exit_status_and_summary(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if sys.implementation.cache_tag != "cpython-313":
        pytest.skip("the command line checks for Python 3.13 bytecode")
    assert main([str(layer), "--require", "pkg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("layer_bytecode OK")
    assert "4/4 .py" in out

    (layer / "python" / "boto3").mkdir()
    assert main([str(layer)]) == 1
    assert "FAIL" in capsys.readouterr().out
