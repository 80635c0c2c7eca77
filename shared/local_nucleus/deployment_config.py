"""Deployment configuration updates as the nucleus applies them: RESET paths removed, recipe defaults
filling what is missing, MERGE on top; JSON pointers into a configuration."""

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .recipes import RecipeError, read_document

_log = logging.getLogger("local_nucleus.deployment_config")



@dataclass
class ConfigurationUpdate:
    """A deployment's configuration update for one component: paths to reset, then values to merge."""

    merge: Dict[str, Any] = field(default_factory=dict)
    reset: List[str] = field(default_factory=list)


def parse_configuration_updates(data: Any, source: str = "<configuration>") -> Dict[str, ConfigurationUpdate]:
    """`{"Component": {"MERGE": {...}, "RESET": ["/path", ...]}}` (keys case-insensitive; MERGE may
    also be a JSON string, as in the deployment API) as ConfigurationUpdates by component."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: expected {{component: {{MERGE: ..., RESET: [...]}}}}")
    updates: Dict[str, ConfigurationUpdate] = {}
    for component, body in data.items():
        if not isinstance(body, dict):
            raise RecipeError(f"{source}: the update of {component} must be a mapping with MERGE "
                              "and/or RESET")
        update = ConfigurationUpdate()
        for key, value in body.items():
            kind = str(key).upper()
            if kind == "MERGE":
                if isinstance(value, str):
                    try:
                        value = json.loads(value)
                    except ValueError as error:
                        raise RecipeError(f"{source}: MERGE of {component} is not valid JSON: "
                                          f"{error}") from error
                if not isinstance(value, dict):
                    raise RecipeError(f"{source}: MERGE of {component} must be a mapping")
                update.merge = value
            elif kind == "RESET":
                if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                    raise RecipeError(f"{source}: RESET of {component} must be a list of JSON pointers")
                for pointer in value:
                    if pointer and not pointer.startswith("/"):
                        raise RecipeError(f"{source}: RESET path {pointer!r} of {component} is not a "
                                          "JSON pointer (it starts with /)")
                update.reset = list(value)
            else:
                raise RecipeError(f"{source}: unknown key {key} for {component} (MERGE or RESET)")
        updates[str(component)] = update
    return updates


def load_configuration_updates(path: str) -> Dict[str, ConfigurationUpdate]:
    """Read a configuration update file (JSON or YAML)."""
    return parse_configuration_updates(read_document(path, "configuration file"), path)


def resolve_configuration(defaults: Dict[str, Any], update: Optional[ConfigurationUpdate] = None,
                          current: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The configuration a component gets: `current` minus RESET paths, defaults filling the gaps,
    then MERGE on top (the nucleus's order). A fresh launch has no current configuration."""
    result = json.loads(json.dumps(current or {}))
    if update is not None:
        for pointer in update.reset:
            if pointer == "":
                result = {}
                break
            path = pointer_segments(pointer)
            if any(segment.isdigit() for segment in path):
                # The nucleus refuses to reset what may be an array element.
                _log.error("RESET %s ignored: it may point to an array element", pointer)
                continue
            _remove_path(result, path)
    _fill_missing(result, json.loads(json.dumps(defaults or {})))
    if update is not None:
        merge_into(result, update.merge)
    return result


def merge_into(target: Dict[str, Any], changes: Dict[str, Any]) -> Dict[str, Any]:
    """Merge `changes` into `target` as the nucleus merges a configuration: mappings recursively,
    anything else (lists included) replaced."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_into(target[key], value)
        else:
            target[key] = json.loads(json.dumps(value))
    return target


def _fill_missing(target: Dict[str, Any], defaults: Dict[str, Any]) -> None:
    for key, value in defaults.items():
        if key not in target:
            target[key] = value
        elif isinstance(value, dict) and isinstance(target[key], dict):
            _fill_missing(target[key], value)


def _remove_path(config: Dict[str, Any], path: List[str]) -> None:
    node: Any = config
    for segment in path[:-1]:
        if not isinstance(node, dict) or segment not in node:
            return
        node = node[segment]
    if isinstance(node, dict) and path:
        node.pop(path[-1], None)


def pointer_segments(pointer: str) -> List[str]:
    """A JSON pointer (RFC 6901) as its unescaped segments."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


_MISSING = object()


def lookup_pointer(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or `_MISSING`."""
    try:
        segments = pointer_segments(pointer)
    except ValueError:
        return _MISSING
    node = document
    for segment in segments:
        if isinstance(node, dict):
            if segment not in node:
                return _MISSING
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return _MISSING
    return node


def configuration_text(value: Any) -> str:
    """A configuration value as it replaces a `{configuration:...}` variable: scalars as text,
    containers as compact JSON (the nucleus's Jackson `asText()` / `toString()`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(value)
