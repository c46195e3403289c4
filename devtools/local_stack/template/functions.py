"""The template's functions: their properties with SAM's Globals merged in, environment (intrinsics resolved),
reserved concurrency, name, layers, and their handler imported from `CodeUri` by file path."""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.template.document import Template, TemplateError, as_template
from local_stack.template.intrinsics import NO_VALUE, resolver_for, scalar_string

LOG = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


FUNCTION_TYPE = "AWS::Serverless::Function"


def _is_mergeable_map(value: Any) -> bool:
    """A map Globals merge into; an intrinsic function (`{"Ref": ...}`, `{"Fn::If": ...}`) is one value to SAM."""
    if not isinstance(value, dict):
        return False
    if len(value) == 1:
        (key,) = value
        return not (key in ("Ref", "Condition") or str(key).startswith("Fn::"))
    return True


def merge_globals(global_value: Any, own_value: Any) -> Any:
    """SAM's Globals rule: maps merge (the function wins), lists concatenate (Globals first), scalars and intrinsic
    functions override."""
    if _is_mergeable_map(global_value) and _is_mergeable_map(own_value):
        merged = dict(global_value)
        for key, value in own_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(own_value, list):
        return global_value + own_value
    return own_value


def function_ids(template: Template | str | Path) -> list[str]:
    template = as_template(template)
    return [lid for lid, r in template["Resources"].items() if (r or {}).get("Type") == FUNCTION_TYPE]


def function_properties(template: Template | str | Path, logical_id: str) -> dict[str, Any]:
    """The function's Properties with `Globals.Function` merged in (unresolved intrinsics)."""
    template = as_template(template)
    resource = template["Resources"].get(logical_id)
    if not resource or resource.get("Type") != FUNCTION_TYPE:
        raise TemplateError(f"{logical_id} is not an {FUNCTION_TYPE} of the template")
    globals_ = ((template.get("Globals") or {}).get("Function")) or {}
    merged: dict[str, Any] = merge_globals(globals_, resource.get("Properties") or {})
    return merged


def _stringify_env(name: str, value: Any) -> str:
    if isinstance(value, dict | list):
        raise TemplateError(f"environment variable {name} resolves to a {type(value).__name__}, not a string")
    return scalar_string(value, what=f"environment variable {name}")


def function_environment(
    template: Template | str | Path,
    logical_id: str,
    resources: Mapping[str, str],
    parameter_overrides: Mapping[str, Any] | None = None,
    *,
    region: str | None = None,
    account_id: str | None = None,
    stack_name: str | None = None,
) -> dict[str, str]:
    """`Globals.Function.Environment` merged with the function's own, every intrinsic resolved.

    `resources` is what `create_aws_resources` answered (a plain logical id → name mapping works too; ARNs are
    then computed from `region`/`account_id`). Region, account and stack name default to the ones
    `resources` carries.
    """
    template = as_template(template)
    properties = function_properties(template, logical_id)
    resolver = resolver_for(
        template, resources, parameter_overrides, region=region, account_id=account_id, stack_name=stack_name
    )
    environment = resolver.resolve(properties.get("Environment") or {})
    if environment is NO_VALUE:
        return {}
    variables = environment.get("Variables") or {}
    return {name: _stringify_env(name, value) for name, value in variables.items() if value is not NO_VALUE}


def function_reserved_concurrency(
    template: Template | str | Path,
    logical_id: str,
    resources: Mapping[str, str],
    parameter_overrides: Mapping[str, Any] | None = None,
) -> int | None:
    """The function's `ReservedConcurrentExecutions`, intrinsics resolved; None when it reserves none."""
    template = as_template(template)
    value = function_properties(template, logical_id).get("ReservedConcurrentExecutions")
    if value is None:
        return None
    resolved = resolver_for(template, resources, parameter_overrides).resolve(value)
    if resolved is NO_VALUE or resolved is None:
        return None
    try:
        return int(resolved)
    except (TypeError, ValueError):
        raise TemplateError(f"{logical_id}: ReservedConcurrentExecutions {resolved!r} is not a number") from None


def function_name(template: Template | str | Path, logical_id: str, stack_name: str) -> str:
    configured = function_properties(template, logical_id).get("FunctionName")
    return configured if isinstance(configured, str) else f"{stack_name}-{logical_id}"


def layer_directories(template: Template | str | Path, logical_id: str, project_root: str | Path) -> list[Path]:
    """Where the function's template-defined layers keep their importable code (Lambda's /opt/python)."""
    template = as_template(template)
    directories: list[Path] = []
    for layer in function_properties(template, logical_id).get("Layers") or []:
        target = layer.get("Ref") if isinstance(layer, dict) else None
        resource = template["Resources"].get(target) if isinstance(target, str) else None
        if not resource or resource.get("Type") not in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            LOG.info("%s: layer %r is not built from this template: not on the local path", logical_id, layer)
            continue
        properties = resource.get("Properties") or {}
        content = properties.get("ContentUri") or (properties.get("Content") or {})
        if not isinstance(content, str):
            raise TemplateError(f"layer {target}: only a local ContentUri directory is supported")
        directory = Path(project_root) / content
        build_method = str(((resource.get("Metadata") or {}).get("BuildMethod")) or "")
        # Without a build method the directory is zipped as-is, so Lambda imports from its python/ folder;
        # `python3.x` and `makefile` builds take the directory as the package root.
        if not build_method and (directory / "python").is_dir():
            directory = directory / "python"
        directories.append(directory.resolve())
    return directories


@dataclass(frozen=True)
class HandlerLocation:
    code_dir: Path
    module_file: Path
    module_name: str  # the unique name it is imported under
    attribute: str


def handler_location(template: Template | str | Path, logical_id: str, project_root: str | Path) -> HandlerLocation:
    properties = function_properties(template, logical_id)
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise TemplateError(f"{logical_id}: runtime {runtime or '(none)'} cannot run in the local stack")
    if "InlineCode" in properties or not isinstance(properties.get("CodeUri"), str):
        raise TemplateError(f"{logical_id}: only a local CodeUri directory is supported")
    handler = str(properties.get("Handler", ""))
    module, _, attribute = handler.rpartition(".")
    if not module or not attribute:
        raise TemplateError(f"{logical_id}: Handler {handler!r} is not <module>.<function>")
    code_dir = (Path(project_root) / properties["CodeUri"]).resolve()
    module_file = code_dir / (module.replace(".", "/") + ".py")
    if not module_file.is_file():
        package_init = code_dir / module.replace(".", "/") / "__init__.py"
        if not package_init.is_file():
            raise TemplateError(f"{logical_id}: handler module {module_file} does not exist")
        module_file = package_init
    unique = re.sub(r"\W", "_", f"{logical_id}__{module}")
    return HandlerLocation(code_dir, module_file, f"_local_stack_function__{unique}", attribute)


def load_handler(template: Template | str | Path, logical_id: str, project_root: str | Path) -> Handler:
    """Import `CodeUri/<module>.py` by file path under a name unique to the function; answer the handler.

    Several functions each have an `app.py`: each is imported as `_local_stack_function__<LogicalId>__app`.
    While the module runs, its code directory is first on `sys.path` (like Lambda's task root), so sibling
    modules import; the function's template layers are added to `sys.path` for good.
    """
    template = as_template(template)
    location = handler_location(template, logical_id, project_root)
    for directory in layer_directories(template, logical_id, project_root):
        if str(directory) not in sys.path:
            sys.path.append(str(directory))
    spec = importlib.util.spec_from_file_location(location.module_name, location.module_file)
    if spec is None or spec.loader is None:
        raise TemplateError(f"{logical_id}: cannot import {location.module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[location.module_name] = module
    sys.path.insert(0, str(location.code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(location.module_name, None)
        raise
    finally:
        sys.path.remove(str(location.code_dir))
    handler = getattr(module, location.attribute, None)
    if not callable(handler):
        raise TemplateError(f"{logical_id}: {location.module_file} has no callable {location.attribute!r}")
    return handler  # type: ignore[no-any-return]
