"""The template's REST APIs: the routes declared by functions' `Events` of `Type: Api`, and an API's stage, binary
media types and gateway responses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.template.document import Template, TemplateError, as_template
from local_stack.template.functions import function_ids, function_properties, merge_globals
from local_stack.template.intrinsics import StackResources, local_api_id, resolver_for

# SAM's implicit API (functions' Api events without RestApiId) and its stage name.
IMPLICIT_API_ID = "ServerlessRestApi"
IMPLICIT_API_STAGE = "Prod"


@dataclass(frozen=True)
class Route:
    method: str  # upper case; "ANY" matches every method
    path_template: str  # "/funders/{funder_id}", "/{proxy+}"
    function_logical_id: str
    auth: str  # the authorizer in force: "AWS_IAM", "NONE", or an authorizer's name
    api_logical_id: str = IMPLICIT_API_ID
    event_id: str = ""


def _api_auth_default(template: Template, api_logical_id: str) -> str:
    globals_auth = (((template.get("Globals") or {}).get("Api") or {}).get("Auth")) or {}
    resource = template["Resources"].get(api_logical_id) or {}
    auth = merge_globals(globals_auth, ((resource.get("Properties") or {}).get("Auth")) or {})
    return str(auth.get("DefaultAuthorizer") or "NONE")


def api_routes(template: Template | str | Path, parameter_overrides: Mapping[str, Any] | None = None) -> list[Route]:
    """REST routes from the functions' `Events` of `Type: Api` (HttpApi and other event types are skipped)."""
    template = as_template(template)
    resolver = resolver_for(template, StackResources(), parameter_overrides)
    routes: list[Route] = []
    seen: dict[tuple[str, str, str], str] = {}
    for logical_id in function_ids(template):
        if not resolver.resource_enabled(logical_id):
            continue
        events = function_properties(template, logical_id).get("Events") or {}
        for event_id, event in events.items():
            if (event or {}).get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            api = properties.get("RestApiId", IMPLICIT_API_ID)
            api_id = api.get("Ref") if isinstance(api, dict) else api
            if not isinstance(api_id, str):
                raise TemplateError(f"{logical_id}.{event_id}: RestApiId must be a Ref to a template API")
            path, method = properties.get("Path"), str(properties.get("Method", "")).upper()
            if not isinstance(path, str) or not path.startswith("/") or not method:
                raise TemplateError(f"{logical_id}.{event_id}: Path and Method are required")
            method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
            authorizer = ((properties.get("Auth") or {}).get("Authorizer")) or _api_auth_default(template, api_id)
            key = (api_id, method, path)
            if key in seen:
                raise TemplateError(f"route {method} {path} is declared twice ({seen[key]}, {logical_id}.{event_id})")
            seen[key] = f"{logical_id}.{event_id}"
            routes.append(Route(method, path, logical_id, str(authorizer), api_id, event_id))
    return routes


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int | None
    templates: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class ApiSettings:
    logical_id: str
    api_id: str
    stage: str
    binary_media_types: tuple[str, ...] = ()
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)


def api_settings(
    template: Template | str | Path,
    api_logical_id: str = IMPLICIT_API_ID,
    parameter_overrides: Mapping[str, Any] | None = None,
) -> ApiSettings:
    """Stage name, binary media types and gateway responses of a template REST API (or SAM's implicit one)."""
    template = as_template(template)
    resolver = resolver_for(template, StackResources(), parameter_overrides)
    globals_api = ((template.get("Globals") or {}).get("Api")) or {}
    resource = template["Resources"].get(api_logical_id)
    if resource is None and api_logical_id != IMPLICIT_API_ID:
        raise TemplateError(f"unknown API {api_logical_id}")
    properties = resolver.resolve(merge_globals(globals_api, ((resource or {}).get("Properties")) or {}))
    stage = str(properties.get("StageName") or IMPLICIT_API_STAGE)
    # SAM (like API Gateway's patch paths) writes "/" in media types as "~1".
    binary = tuple(str(t).replace("~1", "/") for t in properties.get("BinaryMediaTypes") or [])
    responses: dict[str, GatewayResponse] = {}
    for kind, spec in (properties.get("GatewayResponses") or {}).items():
        parameters = (spec or {}).get("ResponseParameters") or {}
        headers = {str(k): str(v) for k, v in (parameters.get("Headers") or {}).items()}
        status = spec.get("StatusCode")
        responses[str(kind)] = GatewayResponse(
            int(status) if status is not None else None,
            {str(k): str(v) for k, v in (spec.get("ResponseTemplates") or {}).items()},
            headers,
        )
    return ApiSettings(api_logical_id, local_api_id(api_logical_id), stage, binary, responses)
