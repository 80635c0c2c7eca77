"""Component recipes as the Greengrass nucleus reads them: parsing, platform manifests and lifecycle
steps (dependencies, configuration updates and recipe variables have their own modules).

Behaviour copied from the nucleus (aws-greengrass-nucleus `PlatformResolver`, `KernelConfigResolver`,
aws-greengrass-component-common `PlatformHelper`):

- recipe keys are case-insensitive; configuration keys and platform attribute names are data and keep
  their case;
- the first manifest whose `Platform` is satisfied wins; a platform value is an exact label, `*`
  (anything, even a missing attribute), `/regex/` (whole-label match), or `all`/`any` for `os` and
  `architecture`; other values starting with a special character never match;
"""

import json
import logging
import os
import platform as _platform
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

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

def read_document(path: str, what: str) -> Any:
    """A JSON (`.json`) or YAML file's data; RecipeError naming `what` when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise RecipeError(f"cannot read {what} {path}: {error}") from error


def load_recipe(path: str) -> Recipe:
    """Parse one recipe file (YAML or JSON)."""
    return parse_recipe(read_document(path, "recipe"), path)


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
