"""What the launcher runs for each component, resolved before anything starts: the manifest for this
platform, the configuration a deployment gives it, its folders and its interpolated lifecycle."""

import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .dependencies import start_order
from .deployment_config import ConfigurationUpdate, resolve_configuration
from .recipe_variables import ComponentPaths, Interpolator, component_paths
from .recipes import Manifest, Recipe, RecipeError

_log = logging.getLogger("local_nucleus.plan")


class LauncherError(RuntimeError):
    """The components cannot be launched (recipe, platform, configuration or artifact problem)."""


@dataclass
class ComponentPlan:
    """What the launcher runs for one component."""

    recipe: Recipe
    manifest: Manifest
    configuration: Dict[str, Any]
    lifecycle: Dict[str, Any]
    paths: ComponentPaths
    dependencies: List[str]

    @property
    def name(self) -> str:
        return self.recipe.name


def plan_components(recipes: Dict[str, Recipe], platform: Dict[str, str],
                    updates: Mapping[str, ConfigurationUpdate], run_dir: str, thing_name: str,
                    wanted: Optional[Sequence[str]] = None,
                    interpolate_component_configuration: bool = False,
                    work_folders: Optional[Mapping[str, str]] = None) -> List[ComponentPlan]:
    """Resolve manifests, configurations and lifecycles, dependencies first.

    Recipe variables are replaced in each lifecycle; in the configuration (accessControl included)
    only with `interpolate_component_configuration`, the nucleus option of that name (default false).
    `work_folders` puts a component's work folder elsewhere than `<run_dir>/work/<name>`.
    """
    try:
        order = start_order(recipes, wanted)
    except RecipeError as error:
        raise LauncherError(str(error)) from error
    for name in updates:
        if name not in recipes:
            raise LauncherError(f"configuration given for {name}, which has no recipe")
        if name not in order:
            _log.warning("configuration for %s ignored: it is not launched", name)
    configurations: Dict[str, Dict[str, Any]] = {}
    manifests: Dict[str, Manifest] = {}
    paths: Dict[str, ComponentPaths] = {}
    for name in order:
        recipe = recipes[name]
        manifest = recipe.select_manifest(platform)
        if manifest is None:
            raise LauncherError(f"{name}: no manifest of {recipe.path} matches this platform {platform} "
                                "(a custom attribute is set with --platform-override key=value)")
        manifests[name] = manifest
        configurations[name] = resolve_configuration(recipe.default_configuration, updates.get(name))
        paths[name] = component_paths(run_dir, name, recipe.version)
        if work_folders and name in work_folders:
            paths[name].work = os.path.abspath(work_folders[name])
    dependencies = {name: set(recipes[name].dependencies) for name in order}
    interpolator = Interpolator(run_dir, thing_name, configurations, paths, dependencies)
    if interpolate_component_configuration:
        for name in order:
            configurations[name] = interpolator.interpolate_configuration(configurations[name], name)
    running = set(order)
    plans = []
    for name in order:
        recipe = recipes[name]
        lifecycle = interpolator.interpolate(recipe.lifecycle(manifests[name]), name)
        plans.append(ComponentPlan(recipe, manifests[name], configurations[name], lifecycle, paths[name],
                                   [dep for dep in recipe.dependencies if dep in running]))
    return plans
