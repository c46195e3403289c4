"""The README tells the truth about the project: every `make` target it names exists, every `python -m` module it
runs is there, every path it cites exists, the Deploy section registers exactly the events the processor applies,
and the Configuration section names every template parameter and every variable a function reads. (The README's
local commands run against a live stack in tests/e2e/test_local_stack.py; `make demo` in tests/e2e.)"""

from __future__ import annotations

import importlib.util
import re

from incytes_billing.config import Environment
from incytes_billing.domain.event_processor import APPLIED_EVENTS
from tests.infra.test_function_config import CONFIG_OF, environment_of
from tests.support import PROJECT_ROOT, template

README = (PROJECT_ROOT / "README.md").read_text()
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_make_target_named_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", README))
    targets = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.MULTILINE))
    assert named, "the README names make targets"
    assert named - targets == set()


def test_every_module_run_exists() -> None:
    modules = set(re.findall(r"python -m ([a-z_.]+)", README))
    assert modules
    assert {m for m in modules if importlib.util.find_spec(m) is None} == set()


def test_every_path_cited_exists() -> None:
    cited = set(re.findall(r"`((?:docs|functions|layers|devtools|tests|events|benchmarks)/[\w./-]*)`", README))
    cited |= set(re.findall(r"\]\(((?:docs|devtools)/[\w./-]+)\)", README))
    assert len(cited) > 10
    assert {path for path in cited if not (PROJECT_ROOT / path.rstrip("/")).exists()} == set()


def test_the_deploy_section_registers_the_events_the_processor_applies() -> None:
    step = section("Deploy").split("4. **Connect Stripe's events**", 1)[1].split("Add a second", 1)[0]
    registered = set(re.findall(r"`((?:invoice|customer)\.[a-z_.]+)`", step))
    assert registered == set(APPLIED_EVENTS)


def test_the_configuration_section_names_every_parameter_and_variable() -> None:
    configuration = section("Configuration")
    parameters = set(template()["Parameters"])
    variables: set[str] = set()
    for function, kind in CONFIG_OF.items():
        env = Environment(environment_of(function))
        kind.from_environment(env)
        variables |= env.names_read
    missing = {name for name in parameters | variables if f"`{name}`" not in configuration}
    assert missing == set()
