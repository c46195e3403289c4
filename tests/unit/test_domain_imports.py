"""The domain depends on ports, never on the SDKs, the adapters or the configuration that assembles it
(docs/architecture.md § Principles). Read as source: nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "layers" / "shared" / "incytes_billing" / "domain"
FORBIDDEN = (
    "boto3",
    "botocore",
    "stripe",
    "incytes_billing.adapters",
    "incytes_billing.config",
    "incytes_billing.wiring",
)


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda path: path.name)
def test_domain_module_imports_no_sdk_adapter_or_configuration(path: Path) -> None:
    upward = {
        module
        for module in imported_modules(path)
        if any(module == forbidden or module.startswith(f"{forbidden}.") for forbidden in FORBIDDEN)
    }
    assert not upward, f"{path.name} imports {sorted(upward)}"
