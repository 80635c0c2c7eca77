"""Recipes as the nucleus reads them: platform manifests, configuration updates, recipe variables,
dependency order."""

import json
import os

import pytest
import yaml
from local_nucleus.dependencies import start_order, version_satisfies
from local_nucleus.deployment_config import (
    ConfigurationUpdate,
    load_configuration_updates,
    parse_configuration_updates,
    resolve_configuration,
)
from local_nucleus.launcher import LauncherError, plan_components
from local_nucleus.recipe_variables import Interpolator, component_paths
from local_nucleus.recipes import (
    RecipeError,
    current_platform,
    detect_platform,
    lifecycle_step,
    load_recipes,
    parse_platform_overrides,
    parse_recipe,
    platform_satisfies,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

JETSON = {"os": "linux", "architecture": "aarch64", "ggvision.jetson": "true"}
PI = {"os": "linux", "architecture": "arm", "architecture.detail": "armv7l"}
LAPTOP = {"os": "linux", "architecture": "amd64"}


def recipe(manifests, **extra):
    data = {"RecipeFormatVersion": "2020-01-25", "ComponentName": "test.Recipe", "ComponentVersion": "1.0.0",
            "Manifests": manifests}
    data.update(extra)
    return parse_recipe(data)


def manifest(name, **platform):
    return {"Name": name, "Platform": platform, "Lifecycle": {"Run": f"echo {name}"}}


# ---------------------------------------------------------------- platform manifests

def test_first_matching_manifest_wins_like_the_nucleus():
    r = recipe([manifest("jetson", os="linux", architecture="aarch64", **{"ggvision.jetson": "true"}),
                manifest("aarch64", os="linux", architecture="aarch64"),
                manifest("armv7l", os="linux", architecture="arm", **{"architecture.detail": "armv7l"}),
                manifest("amd64", os="linux", architecture="amd64")])
    assert r.select_manifest(JETSON).name == "jetson"
    assert r.select_manifest({"os": "linux", "architecture": "aarch64"}).name == "aarch64"
    assert r.select_manifest(PI).name == "armv7l"
    assert r.select_manifest(LAPTOP).name == "amd64"
    assert r.select_manifest({"os": "darwin", "architecture": "amd64"}) is None


def test_wildcard_matches_even_a_missing_attribute_but_an_exact_label_needs_it():
    assert platform_satisfies(LAPTOP, {"os": "linux", "ggvision.jetson": "*"})
    assert not platform_satisfies(LAPTOP, {"os": "linux", "ggvision.jetson": "true"})
    assert platform_satisfies(LAPTOP, {})  # no platform: any device


def test_regex_values_match_the_whole_label():
    assert platform_satisfies(PI, {"architecture": "/arm|aarch64/"})
    assert platform_satisfies(JETSON, {"architecture": "/arm|aarch64/"})
    assert not platform_satisfies(LAPTOP, {"architecture": "/arm|aarch64/"})
    assert not platform_satisfies(LAPTOP, {"architecture": "/amd/"})  # a full match, not a search


def test_all_and_any_are_wildcards_only_for_os_and_architecture():
    assert platform_satisfies(LAPTOP, {"os": "all", "architecture": "any"})
    assert not platform_satisfies({"custom": "x"}, {"custom": "all"})


def test_labels_starting_with_a_special_character_never_match():
    assert not platform_satisfies({"os": "linux", "custom": "-x"}, {"custom": "-x"})


def test_platform_override_adds_custom_attributes_and_replaces_detected_ones():
    overrides = parse_platform_overrides(["ggvision.jetson=true", "architecture = aarch64"])
    platform = current_platform(overrides)
    assert platform["ggvision.jetson"] == "true" and platform["architecture"] == "aarch64"
    with pytest.raises(RecipeError, match="key=value"):
        parse_platform_overrides(["jetson"])


def test_detected_platform_is_named_as_the_nucleus_names_it():
    detected = detect_platform()
    assert detected["os"] == "linux"
    assert detected["architecture"] in ("amd64", "aarch64", "arm", "x86")
    assert ("architecture.detail" in detected) == (detected["architecture"] == "arm")


def test_real_recipes_pick_the_jetson_manifest_only_with_the_override():
    recipes = load_recipes([os.path.join(ROOT, "recipes")])
    if "ggvision.ObjectDetection" not in recipes:
        pytest.skip("no ObjectDetection recipe yet")
    detection = recipes["ggvision.ObjectDetection"]
    assert detection.select_manifest(JETSON).platform.get("ggvision.jetson") == "true"
    chosen = detection.select_manifest({"os": "linux", "architecture": "aarch64"})
    assert "ggvision.jetson" not in chosen.platform
    assert detection.select_manifest(PI).platform.get("architecture.detail") == "armv7l"
    assert detection.select_manifest(LAPTOP).platform["architecture"] == "amd64"


def test_recipe_keys_are_case_insensitive_but_configuration_keys_are_not():
    r = parse_recipe({"recipeformatversion": "2020-01-25", "componentname": "test.Lower",
                      "COMPONENTVERSION": "2.0.0",
                      "componentconfiguration": {"defaultconfiguration": {"CamelKey": 1}},
                      "manifests": [{"platform": {"os": "linux"},
                                     "lifecycle": {"setenv": {"myVar": "x"},
                                                   "run": {"script": "echo hi", "requiresprivilege": "true",
                                                           "timeout": "5"}},
                                     "artifacts": [{"uri": "s3://b/f.zip", "unarchive": "zip"}]}]})
    assert (r.name, r.version, r.default_configuration) == ("test.Lower", "2.0.0", {"CamelKey": 1})
    chosen = r.select_manifest(LAPTOP)
    assert chosen.artifacts[0].file_name == "f.zip" and chosen.artifacts[0].unarchive == "ZIP"
    lifecycle = r.lifecycle(chosen)
    assert lifecycle["Setenv"] == {"myVar": "x"}
    step = lifecycle_step(lifecycle, "Run")
    assert (step.script, step.requires_privilege, step.timeout) == ("echo hi", True, 5)


def test_a_manifest_without_lifecycle_uses_the_global_one_filtered_by_its_selections():
    r = recipe([{"Platform": {"os": "linux"}, "Selections": ["linux"]}],
               Lifecycle={"Run": {"linux": "echo linux", "all": "echo any"}, "Setenv": {"A": "1"}})
    lifecycle = r.lifecycle(r.manifests[0])
    assert lifecycle["Run"] == "echo linux" and lifecycle["Setenv"] == {"A": "1"}
    r = recipe([{"Platform": {"os": "linux"}}], Lifecycle={"Run": {"windows": "echo w", "all": "echo any"}})
    assert r.lifecycle(r.manifests[0])["Run"] == "echo any"


def test_malformed_recipe_is_a_clear_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("ComponentName: [unclosed\n")
    with pytest.raises(RecipeError, match="bad.yaml"):
        load_recipes([str(tmp_path)])
    with pytest.raises(RecipeError, match="ComponentVersion is required"):
        parse_recipe({"ComponentName": "x", "Manifests": []})


def test_two_versions_of_one_component_in_the_recipe_folders_are_refused(tmp_path):
    for version in ("1.0.0", "1.0.1"):
        (tmp_path / f"x-{version}.json").write_text(json.dumps(
            {"RecipeFormatVersion": "2020-01-25", "ComponentName": "x", "ComponentVersion": version}))
    with pytest.raises(RecipeError, match="two recipes for x"):
        load_recipes([str(tmp_path)])


# ---------------------------------------------------------------- configuration

DEFAULTS = {"Rate": 5, "Topics": ["a", "b"], "Nested": {"Keep": 1, "Change": 2}, "Gone": "default"}


def test_merge_replaces_values_and_lists_and_merges_mappings():
    update = ConfigurationUpdate(merge={"Rate": 10, "Topics": ["c"], "Nested": {"Change": 3}, "New": True})
    assert resolve_configuration(DEFAULTS, update) == {
        "Rate": 10, "Topics": ["c"], "Nested": {"Keep": 1, "Change": 3}, "Gone": "default", "New": True}


def test_reset_brings_back_the_default_before_the_merge():
    current = {"Rate": 99, "Nested": {"Keep": 7, "Change": 8}, "Gone": "custom"}
    update = ConfigurationUpdate(merge={"Nested": {"Change": 4}}, reset=["/Rate", "/Nested/Keep"])
    assert resolve_configuration(DEFAULTS, update, current) == {
        "Rate": 5, "Topics": ["a", "b"], "Nested": {"Keep": 1, "Change": 4}, "Gone": "custom"}
    assert resolve_configuration(DEFAULTS, ConfigurationUpdate(reset=[""]), current) == DEFAULTS


def test_defaults_are_not_changed_by_resolving():
    defaults = json.loads(json.dumps(DEFAULTS))
    resolve_configuration(defaults, ConfigurationUpdate(merge={"Nested": {"Keep": 0}}))
    assert defaults == DEFAULTS


def test_configuration_update_files_are_read_as_json_or_yaml(tmp_path):
    (tmp_path / "c.yaml").write_text("ggvision.A:\n  merge:\n    Rate: 1\n  reset: [/Topics]\n")
    (tmp_path / "c.json").write_text(json.dumps({"ggvision.A": {"MERGE": json.dumps({"Rate": 2})}}))
    assert load_configuration_updates(str(tmp_path / "c.yaml"))["ggvision.A"] == ConfigurationUpdate(
        {"Rate": 1}, ["/Topics"])
    assert load_configuration_updates(str(tmp_path / "c.json"))["ggvision.A"].merge == {"Rate": 2}


@pytest.mark.parametrize("data, message", [
    ({"A": {"MERGE": [1]}}, "must be a mapping"),
    ({"A": {"RESET": "/x"}}, "list of JSON pointers"),
    ({"A": {"RESET": ["x"]}}, "not a JSON pointer"),
    ({"A": {"UPDATE": {}}}, "unknown key UPDATE"),
    ({"A": "x"}, "MERGE and/or RESET"),
])
def test_bad_configuration_updates_are_clear_errors(data, message):
    with pytest.raises(RecipeError, match=message):
        parse_configuration_updates(data)


# ---------------------------------------------------------------- recipe variables

def interpolator(tmp_path):
    configurations = {
        "ggvision.A": {"Topic": "t/a", "Rate": 0.5, "On": True, "List": [1, 2], "Map": {"b": 1, "a": "x"},
                       "Null": None, "slash/key": "escaped"},
        "ggvision.Dep": {"Value": "from-dep"},
        "ggvision.Other": {"Value": "not-a-dependency"},
    }
    paths = {name: component_paths(str(tmp_path), name, "1.0.0") for name in configurations}
    dependencies = {"ggvision.A": {"ggvision.Dep"}, "ggvision.Dep": set(), "ggvision.Other": set()}
    return Interpolator(str(tmp_path), "my-thing", configurations, paths, dependencies)


def test_system_variables_are_the_nucleus_paths(tmp_path):
    text = interpolator(tmp_path).interpolate(
        "{artifacts:path}|{artifacts:decompressedPath}|{work:path}|{kernel:rootPath}|{iot:thingName}",
        "ggvision.A")
    root = str(tmp_path)
    assert text.split("|") == [
        os.path.join(root, "packages", "artifacts", "ggvision.A", "1.0.0"),
        os.path.join(root, "packages", "artifacts-unarchived", "ggvision.A", "1.0.0"),
        os.path.join(root, "work", "ggvision.A"), root, "my-thing"]


def test_configuration_variables_give_text_or_compact_json(tmp_path):
    interpolate = interpolator(tmp_path).interpolate
    assert interpolate("{configuration:/Topic} {configuration:/Rate} {configuration:/On}", "ggvision.A") \
        == "t/a 0.5 true"
    assert interpolate("{configuration:/List}", "ggvision.A") == "[1,2]"
    assert interpolate("{configuration:/Map}", "ggvision.A") == '{"a":"x","b":1}'
    assert interpolate("{configuration:/List/1}", "ggvision.A") == "2"
    assert interpolate("{configuration:/Null}", "ggvision.A") == "null"
    assert interpolate("{configuration:/slash~1key}", "ggvision.A") == "escaped"


def test_cross_component_variables_resolve_only_for_direct_dependencies(tmp_path):
    interpolate = interpolator(tmp_path).interpolate
    assert interpolate("{ggvision.Dep:configuration:/Value}", "ggvision.A") == "from-dep"
    assert interpolate("{ggvision.Dep:artifacts:decompressedPath}", "ggvision.A") == os.path.join(
        str(tmp_path), "packages", "artifacts-unarchived", "ggvision.Dep", "1.0.0")
    assert interpolate("{ggvision.Dep:work:path}", "ggvision.A") == os.path.join(
        str(tmp_path), "work", "ggvision.Dep")
    assert interpolate("{ggvision.Other:configuration:/Value}", "ggvision.A") == \
        "{ggvision.Other:configuration:/Value}"


def test_unresolvable_variables_are_left_as_written(tmp_path):
    interpolate = interpolator(tmp_path).interpolate
    for text in ("{configuration:/Missing}", "{unknown:thing}", "{artifacts:nope}", "{no colon}",
                 "${HOME} and {configuration:Topic}"):
        assert interpolate(text, "ggvision.A") == text


def test_lifecycle_mappings_are_interpolated_recursively(tmp_path):
    lifecycle = {"Setenv": {"TOPIC": "{configuration:/Topic}"},
                 "Run": {"Script": "run {iot:thingName}", "Timeout": 5}}
    assert interpolator(tmp_path).interpolate(lifecycle, "ggvision.A") == {
        "Setenv": {"TOPIC": "t/a"}, "Run": {"Script": "run my-thing", "Timeout": 5}}


# ---------------------------------------------------------------- dependencies and plans

def named(name, version="1.0.0", dependencies=None, platform=None):
    return parse_recipe({"ComponentName": name, "ComponentVersion": version,
                         "ComponentDependencies": dependencies or {},
                         "Manifests": [{"Platform": platform or {"os": "linux"},
                                        "Lifecycle": {"Run": "echo"}}]})


def test_dependencies_start_first_and_come_along():
    recipes = {r.name: r for r in (named("c", dependencies={"b": {}}), named("b", dependencies={"a": {}}),
                                   named("a"), named("unrelated"))}
    assert start_order(recipes, ["c"]) == ["a", "b", "c"]
    assert start_order(recipes) == ["a", "b", "c", "unrelated"]


def test_missing_hard_dependency_is_an_error_and_a_soft_one_is_skipped():
    soft = named("x", dependencies={"gone": {"DependencyType": "SOFT"}})
    assert start_order({"x": soft}) == ["x"]
    with pytest.raises(RecipeError, match="depends on gone"):
        start_order({"y": named("y", dependencies={"gone": {}})})


def test_dependency_cycles_and_unmet_versions_are_errors():
    with pytest.raises(RecipeError, match="cycle"):
        start_order({"a": named("a", dependencies={"b": {}}), "b": named("b", dependencies={"a": {}})})
    recipes = {"a": named("a", "2.1.0"),
               "b": named("b", dependencies={"a": {"VersionRequirement": "^1.0.0"}})}
    with pytest.raises(RecipeError, match="needs a"):
        start_order(recipes)


@pytest.mark.parametrize("version, requirement, expected", [
    ("1.2.3", ">=1.0.0 <2.0.0", True), ("2.0.0", ">=1.0.0 <2.0.0", False), ("1.9.0", "^1.2.0", True),
    ("1.2.9", "~1.2.0", True), ("1.3.0", "~1.2", False), ("1.4.0", "1.x", True), ("0.2.5", "^0.2.1", True),
    ("0.3.0", "^0.2.1", False), ("3.0.0", "<1.0.0 || >=3.0.0", True), ("1.0.0", "1.0.0", True),
    ("1.0.1", "=1.0.0", False), ("5.0.0", "*", True),
])
def test_version_requirements_follow_npm_ranges(version, requirement, expected):
    assert version_satisfies(version, requirement) is expected


def test_plan_uses_the_platform_the_override_and_the_dependency_configuration(tmp_path):
    dep = parse_recipe({"ComponentName": "dep", "ComponentVersion": "1.0.0",
                        "ComponentConfiguration": {"DefaultConfiguration": {"Port": 1}},
                        "Manifests": [{"Lifecycle": {"Run": "echo"}}]})
    app = parse_recipe(yaml.safe_load("""
        ComponentName: app
        ComponentVersion: 2.0.0
        ComponentDependencies: {dep: {}}
        Manifests:
          - Platform: {os: linux, ggvision.jetson: "true"}
            Lifecycle: {Run: "jetson {dep:configuration:/Port}"}
          - Platform: {os: linux}
            Lifecycle: {Run: "generic {dep:configuration:/Port}"}
    """))
    recipes = {"dep": dep, "app": app}
    updates = {"dep": ConfigurationUpdate(merge={"Port": 2})}
    plans = plan_components(recipes, {"os": "linux", "architecture": "amd64", "ggvision.jetson": "true"},
                            updates, str(tmp_path), "thing", ["app"])
    assert [p.name for p in plans] == ["dep", "app"]
    assert plans[1].lifecycle["Run"] == "jetson 2" and plans[1].dependencies == ["dep"]
    plans = plan_components(recipes, LAPTOP, {}, str(tmp_path), "thing", ["app"])
    assert plans[1].lifecycle["Run"] == "generic 1"
    with pytest.raises(LauncherError, match="no manifest"):
        plan_components(recipes, {"os": "windows", "architecture": "amd64"}, {}, str(tmp_path), "thing")
    with pytest.raises(LauncherError, match="nobody, which has no recipe"):
        plan_components(recipes, LAPTOP, {"nobody": ConfigurationUpdate()}, str(tmp_path), "thing")
