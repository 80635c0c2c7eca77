"""Recipe variables (`{namespace:key}`, `{Component:namespace:key}`) as the nucleus resolves them, and
where it puts a component's files."""

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Set

from .deployment_config import _MISSING, configuration_text, lookup_pointer

_log = logging.getLogger("local_nucleus.recipe_variables")

# The nucleus's placeholders: {namespace:key} and {Component:namespace:key}. `\w` is ASCII in Java.
_SAME_COMPONENT = re.compile(r"\{([.\w]+):([^:}]+)}", re.ASCII)
_CROSS_COMPONENT = re.compile(r"\{([.\w]+):([.\w]+):([^:}]+)}", re.ASCII)



@dataclass
class ComponentPaths:
    """Where the nucleus puts a component's files under its root."""

    artifacts: str
    decompressed: str
    work: str


def component_paths(root: str, name: str, version: str) -> ComponentPaths:
    """`<root>/packages/artifacts/<name>/<version>`, `…/artifacts-unarchived/…` and `<root>/work/<name>`."""
    root = os.path.abspath(root)
    return ComponentPaths(os.path.join(root, "packages", "artifacts", name, version),
                          os.path.join(root, "packages", "artifacts-unarchived", name, version),
                          os.path.join(root, "work", name))


class Interpolator:
    """Replaces recipe variables as the nucleus does at deployment (KernelConfigResolver): in the
    lifecycle always, in the configuration only when the nucleus interpolates configurations.

    A variable that cannot be resolved is left as written (and logged); a cross-component variable only
    resolves for a direct dependency."""

    def __init__(self, root: str, thing_name: str, configurations: Dict[str, Dict[str, Any]],
                 paths: Dict[str, ComponentPaths], dependencies: Dict[str, Set[str]]) -> None:
        self._root = os.path.abspath(root)
        self._thing_name = thing_name
        self._configurations = configurations
        self._paths = paths
        self._dependencies = dependencies

    def interpolate(self, value: Any, component: str) -> Any:
        """A lifecycle with variables replaced: strings, recursively inside mappings (the nucleus has no
        list handling here: lists are not allowed under Lifecycle)."""
        if isinstance(value, str):
            return self._replace(value, component)
        if isinstance(value, dict):
            return {key: self.interpolate(child, component) for key, child in value.items()}
        return value

    def interpolate_configuration(self, value: Any, component: str) -> Any:
        """A configuration with variables replaced in every string, lists included (accessControl
        resources are lists). The nucleus does this only when `interpolateComponentConfiguration` is
        true (nucleus >= 2.6.0; default false): the caller decides."""
        if isinstance(value, str):
            return self._replace(value, component)
        if isinstance(value, dict):
            return {key: self.interpolate_configuration(child, component) for key, child in value.items()}
        if isinstance(value, list):
            return [self.interpolate_configuration(child, component) for child in value]
        return value

    def _replace(self, text: str, component: str) -> str:
        def same(match: "re.Match[str]") -> str:
            namespace, key = match.group(1), match.group(2)
            replacement = self._lookup(component, namespace, key, match.group(0))
            return match.group(0) if replacement is None else replacement

        def cross(match: "re.Match[str]") -> str:
            target, namespace, key = match.group(1), match.group(2), match.group(3)
            if target not in self._dependencies.get(component, set()):
                _log.error("%s: %s not interpolated: %s is not a direct dependency",
                           component, match.group(0), target)
                return match.group(0)
            if target not in self._configurations:
                _log.error("%s: %s not interpolated: %s is not running here",
                           component, match.group(0), target)
                return match.group(0)
            replacement = self._lookup(target, namespace, key, match.group(0))
            return match.group(0) if replacement is None else replacement

        return _CROSS_COMPONENT.sub(cross, _SAME_COMPONENT.sub(same, text))

    def _lookup(self, component: str, namespace: str, key: str, placeholder: str) -> Optional[str]:
        if namespace == "configuration":
            value = lookup_pointer(self._configurations.get(component, {}), key)
            if value is _MISSING:
                _log.error("%s: %s not interpolated: no value at %s", component, placeholder, key)
                return None
            return configuration_text(value)
        paths = self._paths.get(component)
        system = {
            ("artifacts", "path"): paths.artifacts if paths else None,
            ("artifacts", "decompressedPath"): paths.decompressed if paths else None,
            ("work", "path"): paths.work if paths else None,
            ("kernel", "rootPath"): self._root,
            ("iot", "thingName"): self._thing_name,
        }
        if namespace not in ("artifacts", "work", "kernel", "iot"):
            _log.error("%s: %s not interpolated: unknown namespace %s", component, placeholder, namespace)
        return system.get((namespace, key))
