"""Component recipes as the Greengrass nucleus reads them: parsing, platform manifests, configuration
and recipe variables.

Behaviour copied from the nucleus (aws-greengrass-nucleus `PlatformResolver`, `KernelConfigResolver`,
aws-greengrass-component-common `PlatformHelper`):

- recipe keys are case-insensitive; configuration keys and platform attribute names are data and keep
  their case;
- the first manifest whose `Platform` is satisfied wins; a platform value is an exact label, `*`
  (anything, even a missing attribute), `/regex/` (whole-label match), or `all`/`any` for `os` and
  `architecture`; other values starting with a special character never match;
- a configuration update removes its `RESET` paths, then the recipe defaults fill what is missing,
  then `MERGE` is merged on top;
- `{namespace:key}` and `{Component:namespace:key}` variables are replaced in the lifecycle; a variable
  that cannot be resolved is left as written (and logged), a cross-component variable only resolves for
  a direct dependency.
"""

import json
import logging
import os
import platform as _platform
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import yaml

_log = logging.getLogger("local_nucleus.recipes")

RECIPE_EXTENSIONS = (".yaml", ".yml", ".json")

# Recipe field names by their lower-case form: the nucleus parses recipes case-insensitively.
_TOP_KEYS = {k.lower(): k for k in (
    "RecipeFormatVersion", "ComponentName", "ComponentVersion", "ComponentDescription",
    "ComponentPublisher", "ComponentType", "ComponentSource", "ComponentConfiguration",
    "ComponentDependencies", "Manifests", "Lifecycle")}
_CONFIGURATION_KEYS = {"defaultconfiguration": "DefaultConfiguration"}
_DEPENDENCY_KEYS = {"versionrequirement": "VersionRequirement", "dependencytype": "DependencyType"}
_MANIFEST_KEYS = {k.lower(): k for k in ("Name", "Platform", "Lifecycle", "Artifacts", "Selections")}
_ARTIFACT_KEYS = {k.lower(): k for k in ("URI", "Unarchive", "Permission", "Digest", "Algorithm")}
_PERMISSION_KEYS = {"read": "Read", "execute": "Execute"}
_LIFECYCLE_KEYS = {k.lower(): k for k in (
    "Setenv", "Bootstrap", "Install", "Startup", "Run", "Shutdown", "Recover",
    "Script", "RequiresPrivilege", "Timeout", "Skipif")}

STEP_NAMES = ("Bootstrap", "Install", "Startup", "Run", "Shutdown", "Recover")

WILDCARD = "*"
_SIMPLE_LABEL = re.compile(r"[a-zA-Z0-9]")

# The nucleus's placeholders: {namespace:key} and {Component:namespace:key}. `\w` is ASCII in Java.
_SAME_COMPONENT = re.compile(r"\{([.\w]+):([^:}]+)}", re.ASCII)
_CROSS_COMPONENT = re.compile(r"\{([.\w]+):([.\w]+):([^:}]+)}", re.ASCII)


class RecipeError(ValueError):
    """A recipe, a recipe folder or a configuration update that cannot be used, with the reason."""


@dataclass
class Artifact:
    """One entry of a manifest's `Artifacts`."""

    uri: str
    unarchive: str = "NONE"
    read: str = "OWNER"
    execute: str = "NONE"

    @property
    def file_name(self) -> str:
        """The artifact's file name: the last segment of its URI, as the nucleus stores it."""
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Manifest:
    """One platform manifest of a recipe."""

    name: Optional[str]
    platform: Dict[str, str]
    lifecycle: Optional[Dict[str, Any]]
    artifacts: List[Artifact]
    selections: List[str]


@dataclass
class Dependency:
    """One entry of `ComponentDependencies`."""

    name: str
    version_requirement: str = "*"
    dependency_type: str = "HARD"


@dataclass
class LifecycleStep:
    """A lifecycle step (`Install`, `Run`, …) in its long form."""

    script: str
    setenv: Dict[str, str] = field(default_factory=dict)
    requires_privilege: bool = False
    timeout: Optional[int] = None
    skipif: Optional[str] = None


@dataclass
class Recipe:
    """A parsed component recipe."""

    name: str
    version: str
    path: str
    component_type: str
    default_configuration: Dict[str, Any]
    dependencies: Dict[str, Dependency]
    manifests: List[Manifest]
    global_lifecycle: Optional[Dict[str, Any]]

    def select_manifest(self, platform: Dict[str, str]) -> Optional[Manifest]:
        """The first manifest whose platform requirements `platform` satisfies, as the nucleus picks."""
        for manifest in self.manifests:
            if platform_satisfies(platform, manifest.platform):
                return manifest
        return None

    def lifecycle(self, manifest: Manifest) -> Dict[str, Any]:
        """The manifest's lifecycle, or the global one filtered by the manifest's selection keys."""
        if manifest.lifecycle is not None:
            return manifest.lifecycle
        if not self.global_lifecycle:
            return {}
        keywords = {"all"}
        for each in self.manifests:
            keywords.update(each.selections)
        selected = _filter_selections(self.global_lifecycle, keywords, manifest.selections)
        return selected if isinstance(selected, dict) else {}


# ---------------------------------------------------------------- loading

def load_recipe(path: str) -> Recipe:
    """Parse one recipe file (YAML or JSON)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise RecipeError(f"cannot read recipe {path}: {error}") from error
    return parse_recipe(data, path)


def parse_recipe(data: Any, path: str = "<recipe>") -> Recipe:
    """Build a Recipe from already-parsed recipe data."""
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping")
    top = _canonical(data, _TOP_KEYS, path)
    for required in ("ComponentName", "ComponentVersion"):
        if not isinstance(top.get(required), (str, int, float)) or str(top.get(required)) == "":
            raise RecipeError(f"{path}: {required} is required")
    name = str(top["ComponentName"])
    version = str(top["ComponentVersion"])
    component_type = str(top.get("ComponentType") or "aws.greengrass.generic")
    if component_type != "aws.greengrass.generic":
        raise RecipeError(f"{path}: ComponentType {component_type} is not supported by the local "
                          "nucleus (only aws.greengrass.generic)")

    configuration = _canonical(top.get("ComponentConfiguration") or {}, _CONFIGURATION_KEYS, path)
    defaults = configuration.get("DefaultConfiguration") or {}
    if not isinstance(defaults, dict):
        raise RecipeError(f"{path}: DefaultConfiguration must be a mapping")

    dependencies: Dict[str, Dependency] = {}
    for dep_name, properties in (top.get("ComponentDependencies") or {}).items():
        props = _canonical(properties or {}, _DEPENDENCY_KEYS, path)
        dep_type = str(props.get("DependencyType") or "HARD").upper()
        if dep_type not in ("HARD", "SOFT"):
            raise RecipeError(f"{path}: DependencyType of {dep_name} must be HARD or SOFT, not {dep_type}")
        dependencies[str(dep_name)] = Dependency(str(dep_name), str(props.get("VersionRequirement") or "*"),
                                                 dep_type)

    manifests = [_parse_manifest(each, path, index) for index, each in enumerate(top.get("Manifests") or [])]
    global_lifecycle = top.get("Lifecycle")
    if global_lifecycle is not None:
        global_lifecycle = _canonical_lifecycle(global_lifecycle)
    return Recipe(name, version, os.path.abspath(path) if path != "<recipe>" else path, component_type,
                  defaults, dependencies, manifests, global_lifecycle)


def load_recipes(recipe_dirs: Sequence[str]) -> Dict[str, Recipe]:
    """Every recipe in the given folders (`.yaml`, `.yml`, `.json`), by component name.

    Two files for the same component are an error unless they are the same version (then the first
    folder wins), so that a stale copy is never picked silently.
    """
    recipes: Dict[str, Recipe] = {}
    for folder in recipe_dirs:
        if not os.path.isdir(folder):
            raise RecipeError(f"recipe folder {folder} does not exist")
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if not entry.lower().endswith(RECIPE_EXTENSIONS) or not os.path.isfile(path):
                continue
            recipe = load_recipe(path)
            known = recipes.get(recipe.name)
            if known is not None:
                if known.version != recipe.version:
                    raise RecipeError(f"two recipes for {recipe.name}: {known.path} (version "
                                      f"{known.version}) and {recipe.path} (version {recipe.version})")
                continue
            recipes[recipe.name] = recipe
    return recipes


def _canonical(mapping: Any, keys: Dict[str, str], path: str) -> Dict[str, Any]:
    if not isinstance(mapping, dict):
        raise RecipeError(f"{path}: expected a mapping, got {mapping!r}")
    return {keys.get(str(key).lower(), key): value for key, value in mapping.items()}


def _canonical_lifecycle(value: Any) -> Any:
    # Lifecycle keys are case-insensitive; Setenv variable names and selection keys keep their case.
    if not isinstance(value, dict):
        return value
    result: Dict[str, Any] = {}
    for key, child in value.items():
        canonical = _LIFECYCLE_KEYS.get(str(key).lower())
        if canonical == "Setenv":
            result[canonical] = child
        else:
            result[canonical or key] = _canonical_lifecycle(child)
    return result


def _parse_manifest(data: Any, path: str, index: int) -> Manifest:
    manifest = _canonical(data, _MANIFEST_KEYS, path)
    platform_data = manifest.get("Platform") or {}
    if not isinstance(platform_data, dict):
        raise RecipeError(f"{path}: manifest {index} Platform must be a mapping")
    platform = {str(key): _label(value) for key, value in platform_data.items() if value is not None}
    artifacts = []
    for artifact_data in manifest.get("Artifacts") or []:
        artifact = _canonical(artifact_data, _ARTIFACT_KEYS, path)
        if not artifact.get("URI"):
            raise RecipeError(f"{path}: manifest {index} has an artifact without URI")
        permission = _canonical(artifact.get("Permission") or {}, _PERMISSION_KEYS, path)
        artifacts.append(Artifact(str(artifact["URI"]), str(artifact.get("Unarchive") or "NONE").upper(),
                                  str(permission.get("Read") or "OWNER").upper(),
                                  str(permission.get("Execute") or "NONE").upper()))
    selections = manifest.get("Selections") or []
    if isinstance(selections, str):
        selections = [selections]
    lifecycle = manifest.get("Lifecycle")
    return Manifest(manifest.get("Name"), platform,
                    _canonical_lifecycle(lifecycle) if lifecycle is not None else None,
                    artifacts, [str(each) for each in selections])


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _filter_selections(source: Any, keywords: Set[str], selectors: List[str]) -> Any:
    # The nucleus's PlatformResolver.filterPlatform: a level whose keys include selection keywords is
    # replaced by the first selector present (or "all"); other levels are filtered recursively.
    if not isinstance(source, dict):
        return source
    if any(key in keywords for key in source):
        for selector in list(selectors) + ["all"]:
            if source.get(selector) is not None:
                return _filter_selections(source[selector], keywords, selectors)
        return None
    result = {}
    for key, value in source.items():
        filtered = _filter_selections(value, keywords, selectors)
        if filtered is not None:
            result[key] = filtered
    return result


# ---------------------------------------------------------------- platform

def detect_platform() -> Dict[str, str]:
    """This machine's platform attributes, named and normalised as the nucleus detects them."""
    system = _platform.system().lower()
    if system.startswith("win"):
        os_name = "windows"
    elif system == "darwin":
        os_name = "darwin"
    elif os.path.exists("/proc"):
        os_name = "linux"
    else:
        os_name = "unknown"
    machine = _platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        arch = "amd64"
    elif machine in ("i386", "i486", "i586", "i686", "x86"):
        arch = "x86"
    elif machine in ("aarch64", "arm64"):
        arch = "aarch64"
    elif "arm" in machine:
        arch = "arm"
    else:
        arch = "unknown"
    detected = {"os": os_name, "architecture": arch}
    # The nucleus reports a detail only for 32-bit ARM (`uname -m`).
    if machine in ("armv6l", "armv7l", "armv8l"):
        detected["architecture.detail"] = machine
    return detected


def parse_platform_overrides(items: Iterable[str]) -> Dict[str, str]:
    """`key=value` strings (the CLI's --platform-override) as a platformOverride mapping."""
    overrides: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"platform override {item!r} is not key=value")
        overrides[key.strip()] = value.strip()
    return overrides


def current_platform(overrides: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The detected platform with the nucleus `platformOverride` values applied on top."""
    platform = detect_platform()
    for key, value in (overrides or {}).items():
        platform[str(key)] = _label(value)
    return platform


def platform_satisfies(platform: Dict[str, str], requirement: Dict[str, str]) -> bool:
    """Whether `platform` satisfies every attribute of a manifest's `Platform` (empty: any platform)."""
    return all(_attribute_satisfied(name, platform.get(name), template)
               for name, template in requirement.items())


def _attribute_satisfied(name: str, label: Optional[str], template: Optional[str]) -> bool:
    if template is None or template == WILDCARD:
        return True
    if not label:
        return False
    if len(template) >= 2 and template.startswith("/") and template.endswith("/"):
        try:
            return re.fullmatch(template[1:-1], label) is not None
        except re.error as error:
            _log.error("platform attribute %s: bad regular expression %s: %s", name, template, error)
            return False
    if name in ("os", "architecture") and template in ("all", "any"):
        return True
    if not _SIMPLE_LABEL.match(template):
        return False
    return template == label


# ---------------------------------------------------------------- lifecycle steps

def lifecycle_step(lifecycle: Dict[str, Any], step: str) -> Optional[LifecycleStep]:
    """A step of an (interpolated) lifecycle in its long form, or None when it has no script."""
    value = lifecycle.get(step)
    if value is None:
        return None
    if isinstance(value, str):
        return LifecycleStep(value) if value.strip() else None
    if not isinstance(value, dict):
        raise RecipeError(f"lifecycle step {step} must be a script or a mapping, not {value!r}")
    script = value.get("Script")
    if not isinstance(script, str) or not script.strip():
        return None
    timeout = value.get("Timeout")
    try:
        timeout_seconds = int(timeout) if timeout is not None else None
    except (TypeError, ValueError) as error:
        raise RecipeError(f"lifecycle step {step}: Timeout {timeout!r} is not a number of seconds") from error
    privilege = value.get("RequiresPrivilege", False)
    if isinstance(privilege, str):
        privilege = privilege.strip().lower() == "true"
    skipif = value.get("Skipif")
    return LifecycleStep(script, environment_values(value.get("Setenv")), bool(privilege),
                         timeout_seconds, str(skipif) if skipif else None)


def environment_values(setenv: Any) -> Dict[str, str]:
    """A `Setenv` mapping as environment strings (booleans as `true`/`false`, as the nucleus does)."""
    if not setenv:
        return {}
    if not isinstance(setenv, dict):
        raise RecipeError(f"Setenv must be a mapping, not {setenv!r}")
    return {str(key): _label(value) if value is not None else "" for key, value in setenv.items()}


# ---------------------------------------------------------------- dependencies

def start_order(recipes: Dict[str, Recipe], wanted: Optional[Iterable[str]] = None) -> List[str]:
    """The components to run, dependencies first: `wanted` (default: all) plus what they depend on.

    A hard dependency without a recipe is an error, as in a deployment; a soft one is skipped.
    """
    names = list(recipes) if wanted is None else list(wanted)
    for name in names:
        if name not in recipes:
            raise RecipeError("no recipe for component {} (known: {})".format(
                name, ", ".join(sorted(recipes)) or "none"))
    order: List[str] = []
    visiting: List[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            raise RecipeError("dependency cycle: {}".format(" -> ".join(cycle)))
        visiting.append(name)
        recipe = recipes[name]
        for dependency in recipe.dependencies.values():
            target = recipes.get(dependency.name)
            if target is None:
                if dependency.dependency_type == "HARD":
                    raise RecipeError(f"{name} depends on {dependency.name}, which has no recipe")
                continue
            if not version_satisfies(target.version, dependency.version_requirement):
                raise RecipeError(f"{name} needs {dependency.name} {dependency.version_requirement}, "
                                  f"but the recipe is version {target.version}")
            visit(dependency.name)
        visiting.pop()
        order.append(name)

    for name in names:
        visit(name)
    return order


_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?"
                      r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def version_satisfies(version: str, requirement: str) -> bool:
    """Whether `version` meets an npm-style requirement (`>=1.0.0 <2.0.0`, `^1.2.0`, `~1.2`, `1.x`,
    `a || b`). A requirement this reader does not understand is accepted with a warning."""
    requirement = (requirement or "*").strip()
    if requirement in ("", "*", "x", "X"):
        return True
    parsed = _parse_version(version)
    if parsed is None:
        _log.warning("version %s is not semver; requirement %s not checked", version, requirement)
        return True
    try:
        return any(all(_comparator_ok(parsed, part) for part in alternative.split())
                   for alternative in requirement.split("||"))
    except ValueError:
        _log.warning("version requirement %r not understood; not checked", requirement)
        return True


def _parse_version(text: str) -> Optional[Tuple[int, int, int]]:
    match = _VERSION.match(text.strip())
    if not match or not all(part and part.isdigit() for part in match.group(1, 2, 3)):
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def _comparator_ok(version: Tuple[int, int, int], part: str) -> bool:
    operator = re.match(r"^(>=|<=|>|<|=|\^|~)?", part).group(1) or ""
    match = _VERSION.match(part[len(operator):])
    if not match:
        raise ValueError(part)
    numbers = [None if p is None or not p.isdigit() else int(p) for p in match.group(1, 2, 3)]
    given = sum(1 for n in numbers if n is not None)
    low = tuple(n or 0 for n in numbers)
    if operator in ("", "=") and given < 3:
        operator = "^" if given == 1 else "~"  # 1.x means ^1.0.0, 1.2.x means ~1.2.0
    if operator == "^":
        major, minor, patch = low
        if major > 0:
            high = (major + 1, 0, 0)
        elif minor > 0 or given == 2:
            high = (0, minor + 1, 0)
        else:
            high = (0, 0, patch + 1) if given == 3 else (1, 0, 0)
        return low <= version < high
    if operator == "~":
        major, minor, _ = low
        high = (major + 1, 0, 0) if given == 1 else (major, minor + 1, 0)
        return low <= version < high
    return {"": version == low, "=": version == low, ">=": version >= low, "<=": version <= low,
            ">": version > low, "<": version < low}[operator]


# ---------------------------------------------------------------- configuration

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
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise RecipeError(f"cannot read configuration file {path}: {error}") from error
    return parse_configuration_updates(data, path)


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


# ---------------------------------------------------------------- recipe variables

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
    """Replaces recipe variables in lifecycle values, as the nucleus does at deployment."""

    def __init__(self, root: str, thing_name: str, configurations: Dict[str, Dict[str, Any]],
                 paths: Dict[str, ComponentPaths], dependencies: Dict[str, Set[str]]) -> None:
        self._root = os.path.abspath(root)
        self._thing_name = thing_name
        self._configurations = configurations
        self._paths = paths
        self._dependencies = dependencies

    def interpolate(self, value: Any, component: str) -> Any:
        """`value` with variables replaced: strings, recursively inside mappings (not lists: the
        nucleus does not interpolate lists, which a lifecycle does not have)."""
        if isinstance(value, str):
            return self._replace(value, component)
        if isinstance(value, dict):
            return {key: self.interpolate(child, component) for key, child in value.items()}
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
