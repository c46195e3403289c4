"""Helpers shared by the test suites (imported as `tests.support`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from local_stack.template import Template, load_template

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
EVENTS_DIR = PROJECT_ROOT / "events"
EMULATOR_API_KEY = "sk_test_emulator"
# The webhook endpoint's signing secrets in tests: the current one, then one being rotated out.
WEBHOOK_SECRETS = ("whsec_test_current", "whsec_test_previous")

# invoke(function_logical_id, event) -> the handler's result, as `sam local invoke` would print it.
Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


@cache
def _template() -> Template:
    return load_template(TEMPLATE_PATH)


def template() -> Template:
    return copy.deepcopy(_template())


def load_event(relative_path: str) -> dict[str, Any]:
    """A fresh copy of an `events/` file, exactly as `sam local invoke -e` would read it."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / relative_path).read_text())
    return event
