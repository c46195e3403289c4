"""One OpenAPI document for the billing API, built from the code: `python -m local_stack.openapi [> api.json]`.

The template says which routes exist (functions' `Events` of `Type: Api`); each function's Powertools resolver
(`app` in its handler module) says what they accept (`get_openapi_schema`, from the handlers' annotations). The
resolvers' documents are merged, keeping only the operations the template routes. A route added to both the
template and a function joins by itself; one that is in only one of the two is an error.

Only the IAM routes are described: the Stripe webhook (`Auth: NONE`) takes Stripe's events, signed, not a
schema of ours. Responses are rewritten to the contract (docs/contract.md, README "HTTP API"): Powertools documents its
own 422 shape and a string 200, while every error here is `{"error": {"code", "message"[, "details"]}}` and
every success a JSON value.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from local_stack.template.api import Route, api_routes
from local_stack.template.document import Template, TemplateError, load_template
from local_stack.template.functions import handler_location, load_handler

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TITLE = "incytes-billing"
# Powertools adds these to every document; the contract's error replaces them.
POWERTOOLS_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "minLength": 1},
                "message": {"type": "string", "minLength": 1},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
RESPONSES: dict[str, Any] = {
    "2XX": {"description": "Success: a JSON body (README, HTTP API)", "content": {"application/json": {}}},
    "default": {
        "description": "An error, in the contract's shape",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}


def iam_routes(template: Template) -> list[Route]:
    """The routes callers sign with SigV4: every API route but those that opt out (`Auth: NONE`, the webhook)."""
    return [route for route in api_routes(template) if route.auth.upper() != "NONE"]


def resolver_document(template: Template, logical_id: str, project_root: Path) -> dict[str, Any]:
    """The OpenAPI document of one function's Powertools resolver (its handler module's `app`)."""
    load_handler(template, logical_id, project_root)
    module = sys.modules[handler_location(template, logical_id, project_root).module_name]
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_schema"):
        raise TemplateError(f"{logical_id}: its handler module has no Powertools resolver `app`")
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE))
    return document


def api_document(template: Template | None = None, project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The whole API's OpenAPI 3.1 document: the template's IAM routes, described by their functions' code."""
    template = template if template is not None else load_template(project_root / "template.yaml")
    routes_by_function: dict[str, list[Route]] = defaultdict(list)
    for route in iam_routes(template):
        routes_by_function[route.function_logical_id].append(route)
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for logical_id, routes in routes_by_function.items():
        document = resolver_document(template, logical_id, project_root)
        declared = {(path, method.upper()) for path, item in document.get("paths", {}).items() for method in item}
        routed = {(route.path_template, route.method) for route in routes}
        if declared != routed:
            raise TemplateError(
                f"{logical_id}: the template routes {sorted(routed - declared)} that the code does not declare, "
                f"the code declares {sorted(declared - routed)} that the template does not route"
            )
        for path, item in document["paths"].items():
            for method, operation in item.items():
                paths.setdefault(path, {})[method] = {**operation, "responses": RESPONSES}
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in POWERTOOLS_ERROR_SCHEMAS:
                continue
            if schemas.setdefault(name, schema) != schema:
                raise TemplateError(f"{logical_id}: schema {name!r} differs from another function's of that name")
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": "1.0.0"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {**dict(sorted(schemas.items())), "Error": ERROR_SCHEMA}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=PROJECT_ROOT / "template.yaml")
    arguments = parser.parse_args(argv)
    template_path: Path = arguments.template.resolve()
    print(json.dumps(api_document(load_template(template_path), template_path.parent), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
