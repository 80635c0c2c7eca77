"""scripts/build: ZIP contents, byte-identical rebuilds, the final recipe, both modes, and the GDK
schemas for the real components."""

import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import zipfile

import jsonschema
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "scripts", "build")
GDK_REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference", "gdk")

RECIPE = """\
---
# The single source of truth for test.Alpha.
RecipeFormatVersion: "2020-01-25"
ComponentName: test.Alpha
ComponentVersion: '0.3.1'
ComponentDescription: A component for the build tests.
ComponentPublisher: someone else
ComponentConfiguration:
  DefaultConfiguration:
    URI: s3://not-an-artifact/config.zip   # configuration, not an artifact
Manifests:
  - Platform:
      os: linux
    Lifecycle:
      Run: python3 -u {artifacts:decompressedPath}/test.Alpha/main.py
    Artifacts:
      - URI: s3://my-bucket/test.Alpha/0.3.1/test.Alpha.zip
        Unarchive: ZIP
      - Uri: "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/tiny-model.zip"
        Unarchive: ZIP
      - URI: s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/notes.txt
      - URI: s3://elsewhere/runtime.tar.gz
"""


def write(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as stream:
        stream.write(text)


def gdk_config(name, version="NEXT_PATCH"):
    return json.dumps({"component": {name: {
        "author": "ggvision", "version": version,
        "build": {"build_system": "custom",
                  "custom_build_command": ["python3", "../../scripts/build", "--gdk"]},
        "publish": {"bucket": "b", "region": "us-east-1"}}}, "gdk_version": "1.6.2"})


@pytest.fixture
def repo(tmp_path):
    """A throwaway repository: components/alpha (a GDK project), recipes/, shared/ggvision."""
    root = tmp_path / "repo"
    alpha = root / "components" / "alpha"
    write(str(root / "recipes" / "test.Alpha.yaml"), RECIPE)
    write(str(alpha / "gdk-config.json"), gdk_config("test.Alpha"))
    os.symlink("../../recipes/test.Alpha.yaml", str(alpha / "recipe.yaml"))
    write(str(alpha / "main.py"), "print('alpha')\n")
    write(str(alpha / "alpha" / "__init__.py"), "")
    write(str(alpha / "alpha" / "logic.py"), "VALUE = 1\n")
    write(str(alpha / "alpha" / "__pycache__" / "logic.cpython-311.pyc"), "junk")
    write(str(alpha / "alpha" / "test_logic.py"), "def test(): pass\n")
    write(str(alpha / "tests" / "test_alpha.py"), "def test(): pass\n")
    write(str(alpha / ".env"), "SECRET=1\n")
    write(str(alpha / "greengrass-build" / "old.zip"), "stale")
    write(str(alpha / "models" / "tiny-model" / "labels.txt"), "cat\ndog\n")
    write(str(alpha / "models" / "tiny-model" / "model.yaml"), "input: data\n")
    write(str(alpha / "notes.txt"), "shipped as its own artifact\n")
    write(str(alpha / "run.sh"), "#!/bin/sh\n")
    os.chmod(str(alpha / "run.sh"), 0o755)
    shared = root / "shared" / "ggvision"
    write(str(shared / "__init__.py"), "")
    write(str(shared / "ipc.py"), "IPC = 1\n")
    write(str(shared / "contracts" / "schemas" / "frame-1.json"), "{}\n")
    write(str(shared / "__pycache__" / "ipc.cpython-311.pyc"), "junk")
    write(str(root / "shared" / "ggvision.egg-info" / "PKG-INFO"), "")
    return root


def run_build(repo, *args, cwd=None):
    # -S: no site-packages, as on a bare system python3 (the build must need nothing installed).
    command = [sys.executable, "-S", BUILD, "--components-dir", str(repo / "components"),
               "--shared-dir", str(repo / "shared"), "--recipes-dir", str(repo / "recipes"), *args]
    return subprocess.run(command, cwd=str(cwd or repo), capture_output=True, text=True, timeout=120)


def built_files(output):
    return sorted(os.path.relpath(path, str(output)) for path in glob.glob(str(output / "**"), recursive=True)
                  if os.path.isfile(path))


def test_builds_one_zip_per_component_with_its_own_files_the_library_comes_from_the_runtime(repo):
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    artifacts = repo / "out" / "artifacts" / "test.Alpha" / "0.3.1"
    with zipfile.ZipFile(str(artifacts / "test.Alpha.zip")) as archive:
        # No ggvision/ here: ggvision.DLRRuntime installs the library once per device.
        assert archive.namelist() == ["alpha/__init__.py", "alpha/logic.py", "main.py", "run.sh"]
        assert archive.read("main.py") == b"print('alpha')\n"
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
        assert modes["run.sh"] == 0o755 and modes["main.py"] == 0o644
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with zipfile.ZipFile(str(artifacts / "tiny-model.zip")) as archive:
        assert archive.namelist() == ["labels.txt", "model.yaml"]
    assert (artifacts / "notes.txt").read_text() == "shipped as its own artifact\n"
    assert "runtime.tar.gz is not in" in result.stderr  # not in the repository: must already be in S3
    assert built_files(repo / "out") == [
        "artifacts/test.Alpha/0.3.1/notes.txt", "artifacts/test.Alpha/0.3.1/test.Alpha.zip",
        "artifacts/test.Alpha/0.3.1/tiny-model.zip", "recipes/test.Alpha.yaml"]


def test_rebuilding_unchanged_sources_gives_identical_bytes(repo):
    assert run_build(repo, "--output-dir", str(repo / "one")).returncode == 0
    for path in glob.glob(str(repo / "components" / "**"), recursive=True):
        os.utime(path, (time.time() + 100, time.time() + 100))  # newer times must not matter
    assert run_build(repo, "--output-dir", str(repo / "two")).returncode == 0
    for name in built_files(repo / "one"):
        with open(str(repo / "one" / name), "rb") as one, open(str(repo / "two" / name), "rb") as two:
            assert hashlib.sha256(one.read()).digest() == hashlib.sha256(two.read()).digest(), name
    write(str(repo / "components" / "alpha" / "alpha" / "logic.py"), "VALUE = 2\n")
    assert run_build(repo, "--output-dir", str(repo / "three")).returncode == 0
    zip_path = os.path.join("artifacts", "test.Alpha", "0.3.1", "test.Alpha.zip")
    with open(str(repo / "one" / zip_path), "rb") as one, open(str(repo / "three" / zip_path), "rb") as three:
        assert one.read() != three.read()


def test_final_recipe_has_the_version_publisher_and_gdk_artifact_uris(repo):
    assert run_build(repo, "--output-dir", str(repo / "out")).returncode == 0
    text = (repo / "out" / "recipes" / "test.Alpha.yaml").read_text()
    assert "# The single source of truth for test.Alpha." in text  # the author's text is kept
    built = yaml.safe_load(text)
    source = yaml.safe_load(RECIPE)
    assert built["ComponentVersion"] == "0.3.1"  # NEXT_PATCH: the recipe's version
    assert built["ComponentPublisher"] == "ggvision"  # gdk-config author, as GDK's build sets it
    uris = [artifact.get("URI") or artifact.get("Uri") for artifact in built["Manifests"][0]["Artifacts"]]
    assert uris == ["s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/test.Alpha.zip",
                    "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/tiny-model.zip",
                    "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/notes.txt",
                    "s3://elsewhere/runtime.tar.gz"]
    assert built["ComponentConfiguration"] == source["ComponentConfiguration"]
    assert built["Manifests"][0]["Lifecycle"] == source["Manifests"][0]["Lifecycle"]


def test_gdk_config_version_and_placeholders_fill_the_recipe(repo):
    templated = RECIPE.replace("ComponentName: test.Alpha", 'ComponentName: "{COMPONENT_NAME}"')
    write(str(repo / "recipes" / "test.Alpha.yaml"), templated.replace("'0.3.1'", '"{COMPONENT_VERSION}"'))
    write(str(repo / "components" / "alpha" / "gdk-config.json"), gdk_config("test.Alpha", "1.4.0"))
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    built = yaml.safe_load((repo / "out" / "recipes" / "test.Alpha.yaml").read_text())
    assert (built["ComponentName"], built["ComponentVersion"]) == ("test.Alpha", "1.4.0")
    assert (repo / "out" / "artifacts" / "test.Alpha" / "1.4.0" / "test.Alpha.zip").is_file()


def test_a_version_that_differs_between_gdk_config_and_recipe_is_refused(repo):
    write(str(repo / "components" / "alpha" / "gdk-config.json"), gdk_config("test.Alpha", "9.9.9"))
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 1
    assert "9.9.9" in result.stderr and "0.3.1" in result.stderr


def test_one_component_mode_and_unknown_component_error(repo):
    write(str(repo / "recipes" / "test.Beta.json"), json.dumps({
        "RecipeFormatVersion": "2020-01-25", "ComponentName": "test.Beta", "ComponentVersion": "1.0.0",
        "Manifests": [{"Lifecycle": {"Run": "echo"}, "Artifacts": [
            {"URI": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/test.Beta.zip",
             "Unarchive": "ZIP"}]}]}))
    beta = repo / "components" / "beta"
    write(str(beta / "gdk-config.json"), gdk_config("test.Beta"))
    os.symlink("../../recipes/test.Beta.json", str(beta / "recipe.json"))
    write(str(beta / "main.py"), "")
    result = run_build(repo, "--component", "beta", "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    assert built_files(repo / "out") == ["artifacts/test.Beta/1.0.0/test.Beta.zip", "recipes/test.Beta.json"]
    beta_recipe = json.loads((repo / "out" / "recipes" / "test.Beta.json").read_text())
    assert beta_recipe["ComponentPublisher"] == "ggvision"
    result = run_build(repo, "--component", "test.Gamma", "--output-dir", str(repo / "out"))
    assert result.returncode == 1
    assert "unknown component 'test.Gamma' (known: test.Alpha, test.Beta)" in result.stderr


def test_gdk_mode_builds_the_current_folder_into_its_greengrass_build(repo):
    alpha = repo / "components" / "alpha"
    result = run_build(repo, "--gdk", cwd=alpha)
    assert result.returncode == 0, result.stderr
    # GDK publish reads greengrass-build/recipes/<recipe file name, link resolved>.
    assert sorted(os.listdir(str(alpha / "greengrass-build" / "recipes"))) == ["test.Alpha.yaml"]
    # alpha's gdk-config says NEXT_PATCH: GDK reads the artifacts from .../NEXT_PATCH (see below).
    with zipfile.ZipFile(str(alpha / "greengrass-build" / "artifacts" / "test.Alpha" / "NEXT_PATCH"
                             / "test.Alpha.zip")) as archive:
        assert "main.py" in archive.namelist()
        assert not any(name.startswith("greengrass-build") for name in archive.namelist())


# ---------------------------------------------------------------- GDK's NEXT_PATCH and --version

def gdk_publish_reads(project):
    """What `gdk component publish` (GDK CLI 1.6.2) takes from a built GDK project, as its source does it.

    - gdk/common/config/GDKProject.py: gg_build_component_artifacts_dir is
      greengrass-build/artifacts/<name>/<gdk-config "version" as written>, so `NEXT_PATCH` literally;
      recipe_file is ./recipe.yaml resolved (links followed); gg_build_recipes_dir greengrass-build/recipes.
    - gdk/commands/component/PublishCommand.py: try_build rebuilds when that artifacts folder is missing,
      then upload_artifacts_s3 uploads every entry of the folder (iterdir, upload_file: files only) as
      <name>/<resolved version>/<file name>; nothing is renamed locally.
    - gdk/commands/component/transformer/PublishRecipeTransformer.py: reads
      greengrass-build/recipes/<recipe file name>, refuses it unless its ComponentName is the project's,
      sets ComponentVersion to the resolved version and rewrites each s3:// artifact URI whose file name
      matches exactly one file in the artifacts folder.
    Returns (artifacts folder, its file names, the built recipe) or fails as GDK would.
    """
    config = json.loads((project / "gdk-config.json").read_text())
    (name, settings), = config["component"].items()
    artifacts = project / "greengrass-build" / "artifacts" / name / settings["version"]
    entries = sorted(os.listdir(str(artifacts)))  # FileNotFoundError here is the bug GDK users saw
    assert all((artifacts / entry).is_file() for entry in entries), entries
    recipe_name = os.path.basename(os.path.realpath(str(project / "recipe.yaml")))
    recipe = yaml.safe_load((project / "greengrass-build" / "recipes" / recipe_name).read_text())
    assert recipe["ComponentName"] == name
    return artifacts, entries, recipe


def gdk_build_directories(project, name, version):
    """What `gdk component build` does before it runs the custom command (BuildCommand.py,
    create_gg_build_directories): a clean greengrass-build with recipes/ and artifacts/<name>/<version>."""
    os.makedirs(str(project / "greengrass-build" / "recipes"), exist_ok=True)
    os.makedirs(str(project / "greengrass-build" / "artifacts" / name / version), exist_ok=True)


def artifact_uris(recipe):
    return [artifact.get("URI") or artifact.get("Uri")
            for manifest in recipe["Manifests"] for artifact in manifest.get("Artifacts", [])]


def test_next_patch_gdk_build_gives_the_layout_gdk_publish_reads(repo):
    alpha = repo / "components" / "alpha"
    write(str(alpha / "greengrass-build" / "artifacts" / "test.Alpha" / "0.3.1" / "stale.zip"), "old build")
    gdk_build_directories(alpha, "test.Alpha", "NEXT_PATCH")
    result = run_build(repo, "--gdk", cwd=alpha)
    assert result.returncode == 0, result.stderr
    artifacts, entries, recipe = gdk_publish_reads(alpha)
    assert entries == ["notes.txt", "test.Alpha.zip", "tiny-model.zip"]
    # Nothing else under artifacts/test.Alpha: publish would not upload it, and a stale folder misleads.
    assert os.listdir(str(artifacts.parent)) == ["NEXT_PATCH"]
    # Every artifact built here is one GDK publish finds (exactly one file) and points at its S3 copy;
    # the one the repository does not hold keeps its own URI.
    for uri in artifact_uris(recipe):
        file_name = uri.rsplit("/", 1)[-1]
        if uri.startswith("s3://BUCKET_NAME/"):
            assert len(list(artifacts.glob(file_name))) == 1, uri
        else:
            assert uri == "s3://elsewhere/runtime.tar.gz"
    assert recipe["ComponentVersion"] == "0.3.1"  # GDK publish replaces it with the next patch version


def test_an_explicit_gdk_config_version_is_the_gdk_artifacts_folder(repo):
    alpha = repo / "components" / "alpha"
    write(str(alpha / "gdk-config.json"), gdk_config("test.Alpha", "0.3.1"))
    gdk_build_directories(alpha, "test.Alpha", "0.3.1")
    result = run_build(repo, "--gdk", cwd=alpha)
    assert result.returncode == 0, result.stderr
    artifacts, entries, recipe = gdk_publish_reads(alpha)
    assert artifacts.name == "0.3.1" and recipe["ComponentVersion"] == "0.3.1"
    assert entries == ["notes.txt", "test.Alpha.zip", "tiny-model.zip"]


def test_next_patch_at_the_collection_root_the_root_project_follows_gdk_and_the_others_greengrass_cli(repo):
    add_collection_project(repo)
    config = json.loads((repo / "gdk-config.json").read_text())
    config["component"]["test.Collection"]["version"] = "NEXT_PATCH"
    write(str(repo / "gdk-config.json"), json.dumps(config))
    gdk_build_directories(repo, "test.Collection", "NEXT_PATCH")
    result = run_build(repo, "--gdk", cwd=repo)
    assert result.returncode == 0, result.stderr
    artifacts, entries, recipe = gdk_publish_reads(repo)
    assert entries == [] and recipe["ComponentVersion"] == "2.0.0"  # recipe-only: publish uploads nothing
    # test.Alpha is not the project GDK publishes here: greengrass-cli's <name>/<version> layout.
    alpha_zip = repo / "greengrass-build" / "artifacts" / "test.Alpha" / "0.3.1" / "test.Alpha.zip"
    assert os.path.isfile(str(alpha_zip))


def test_next_patch_outside_gdk_keeps_the_greengrass_cli_layout(repo):
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    built = yaml.safe_load((repo / "out" / "recipes" / "test.Alpha.yaml").read_text())
    # greengrass-cli --artifactDir looks for artifacts/<name>/<the recipe's ComponentVersion>/.
    folders = os.listdir(str(repo / "out" / "artifacts" / "test.Alpha"))
    assert folders == [built["ComponentVersion"]] == ["0.3.1"]


def add_beta(repo, version="1.0.0"):
    write(str(repo / "recipes" / "test.Beta.json"), json.dumps({
        "RecipeFormatVersion": "2020-01-25", "ComponentName": "test.Beta", "ComponentVersion": version,
        "Manifests": [{"Lifecycle": {"Run": "echo {COMPONENT_VERSION}"}, "Artifacts": [
            {"URI": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/test.Beta.zip",
             "Unarchive": "ZIP"}]}]}))
    beta = repo / "components" / "beta"
    write(str(beta / "gdk-config.json"), gdk_config("test.Beta", version))
    os.symlink("../../recipes/test.Beta.json", str(beta / "recipe.json"))
    write(str(beta / "main.py"), "")


def test_version_option_overrides_every_component_built(repo):
    add_beta(repo)  # gdk-config and recipe both say 1.0.0; alpha's say NEXT_PATCH and 0.3.1
    add_collection_project(repo)  # 2.0.0, recipe only
    result = run_build(repo, "--version", "4.5.6-rc.1+build.7", "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    assert built_files(repo / "out") == [
        "artifacts/test.Alpha/4.5.6-rc.1+build.7/notes.txt",
        "artifacts/test.Alpha/4.5.6-rc.1+build.7/test.Alpha.zip",
        "artifacts/test.Alpha/4.5.6-rc.1+build.7/tiny-model.zip",
        "artifacts/test.Beta/4.5.6-rc.1+build.7/test.Beta.zip",
        "recipes/test.Alpha.yaml", "recipes/test.Beta.json", "recipes/test.Collection.yaml"]
    assert os.listdir(str(repo / "out" / "artifacts" / "test.Collection")) == ["4.5.6-rc.1+build.7"]
    for name in ("test.Alpha.yaml", "test.Beta.json", "test.Collection.yaml"):
        text = (repo / "out" / "recipes" / name).read_text()
        assert yaml.safe_load(text)["ComponentVersion"] == "4.5.6-rc.1+build.7", name
        assert "0.3.1" not in text and "1.0.0" not in text and "2.0.0" not in text, name
    beta = json.loads((repo / "out" / "recipes" / "test.Beta.json").read_text())
    assert beta["Manifests"][0]["Lifecycle"]["Run"] == "echo 4.5.6-rc.1+build.7"  # {COMPONENT_VERSION} too
    # One component: only it is built, with the version given.
    result = run_build(repo, "--component", "beta", "--version", "1.0.1", "--output-dir", str(repo / "one"))
    assert result.returncode == 0, result.stderr
    assert built_files(repo / "one") == ["artifacts/test.Beta/1.0.1/test.Beta.zip", "recipes/test.Beta.json"]


def test_version_option_makes_dependencies_among_the_components_built_require_it(repo):
    add_beta(repo)
    beta_recipe = json.loads((repo / "recipes" / "test.Beta.json").read_text())
    beta_recipe["ComponentDependencies"] = {"test.Alpha": {"VersionRequirement": "~0.3.0"},
                                            "aws.greengrass.Nucleus": {"VersionRequirement": ">=2.6.0"}}
    write(str(repo / "recipes" / "test.Beta.json"), json.dumps(beta_recipe))
    add_collection_project(repo)
    write(str(repo / "recipes" / "test.Collection.yaml"), COLLECTION_RECIPE.replace(
        """  test.Alpha:
    VersionRequirement: ">=0.3.0"
""", """  # the camera
  test.Alpha:
    DependencyType: HARD
    VersionRequirement: '>=0.3.0 <0.4.0'   # the same minor
  "test.Beta":
    VersionRequirement: ^1.0.0
  aws.greengrass.Nucleus:
    VersionRequirement: ">=2.6.0"
"""))
    result = run_build(repo, "--output-dir", str(repo / "plain"))
    assert result.returncode == 0, result.stderr
    plain = yaml.safe_load((repo / "plain" / "recipes" / "test.Collection.yaml").read_text())
    source = yaml.safe_load((repo / "recipes" / "test.Collection.yaml").read_text())
    assert plain["ComponentDependencies"] == source["ComponentDependencies"]  # without --version: as written
    result = run_build(repo, "--version", "0.9.0", "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    text = (repo / "out" / "recipes" / "test.Collection.yaml").read_text()
    assert "  # the camera\n" in text and "    DependencyType: HARD\n" in text  # the author's text is kept
    assert yaml.safe_load(text)["ComponentDependencies"] == {
        "test.Alpha": {"DependencyType": "HARD", "VersionRequirement": "0.9.0"},
        "test.Beta": {"VersionRequirement": "0.9.0"},
        "aws.greengrass.Nucleus": {"VersionRequirement": ">=2.6.0"}}  # not built here: as written
    beta = json.loads((repo / "out" / "recipes" / "test.Beta.json").read_text())
    assert beta["ComponentDependencies"] == {"test.Alpha": {"VersionRequirement": "0.9.0"},
                                             "aws.greengrass.Nucleus": {"VersionRequirement": ">=2.6.0"}}
    # A dependency written in flow style cannot be rewritten line by line: refused, not left stale.
    write(str(repo / "recipes" / "test.Collection.yaml"), COLLECTION_RECIPE.replace(
        """  test.Alpha:
    VersionRequirement: ">=0.3.0"
""", """  test.Alpha: {VersionRequirement: ">=0.3.0"}
"""))
    result = run_build(repo, "--version", "0.9.0", "--output-dir", str(repo / "out"))
    assert result.returncode == 1 and "write the test.Alpha dependency in block style" in result.stderr


def test_version_option_under_gdk(repo):
    alpha = repo / "components" / "alpha"
    # NEXT_PATCH: the artifacts stay where GDK publish reads them; the recipe gets the version.
    result = run_build(repo, "--gdk", "--version", "7.0.0", cwd=alpha)
    assert result.returncode == 0, result.stderr
    artifacts, entries, recipe = gdk_publish_reads(alpha)
    assert artifacts.name == "NEXT_PATCH" and recipe["ComponentVersion"] == "7.0.0"
    # An explicit gdk-config version is what GDK publishes, from artifacts/<name>/<that version>:
    # another --version would give a build GDK cannot publish, so it is refused.
    write(str(alpha / "gdk-config.json"), gdk_config("test.Alpha", "0.3.1"))
    result = run_build(repo, "--gdk", "--version", "7.0.0", cwd=alpha)
    assert result.returncode == 1
    assert "gdk-config.json says version 0.3.1" in result.stderr and "--version 7.0.0" in result.stderr
    result = run_build(repo, "--gdk", "--version", "0.3.1", cwd=alpha)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("version", [
    "1.0", "1", "v1.0.0", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3+a+b",
    "1.2.3 ", " 1.2.3", "1.2.3\n", "NEXT_PATCH", "{COMPONENT_VERSION}", "", "1.2.3-" + "a" * 60])
def test_a_bad_version_option_is_refused_before_anything_is_built(repo, version):
    result = run_build(repo, "--version", version, "--output-dir", str(repo / "out"))
    assert result.returncode == 2, result.stdout
    assert f"argument --version: {version!r} cannot be a component version" in result.stderr
    assert "semantic version" in result.stderr or "longer than 64 characters" in result.stderr
    assert not os.path.exists(str(repo / "out"))


def test_a_bad_version_in_the_sources_is_refused(repo):
    write(str(repo / "recipes" / "test.Alpha.yaml"), RECIPE.replace("'0.3.1'", "'0.3'"))
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 1
    assert "test.Alpha: version '0.3' cannot be a component version" in result.stderr


def test_version_option_is_its_own_and_leaves_the_others_alone(repo):
    help_text = subprocess.run([sys.executable, "-S", BUILD, "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    options = re.findall(r"^  (--[a-z-]+)", help_text, re.MULTILINE)
    assert options.count("--version") == 1 and "--component" in options
    # No other option shares its prefix, so an abbreviation (argparse accepts --vers) stays unambiguous.
    assert [option for option in options if option.startswith("--v")] == ["--version"]
    # It takes a value (argparse's usual --version action prints a program version and exits instead).
    result = run_build(repo, "--version", "1.2.3", "--component", "alpha", "--output-dir", str(repo / "out"))
    assert result.returncode == 0 and "build: wrote" in result.stdout, result.stderr
    assert built_files(repo / "out")[0] == "artifacts/test.Alpha/1.2.3/notes.txt"


COLLECTION_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: test.Collection
ComponentVersion: "2.0.0"
ComponentDependencies:
  test.Alpha:
    VersionRequirement: ">=0.3.0"
Manifests:
  - Platform:
      os: linux
    Lifecycle: {}
"""


def add_collection_project(repo):
    """The repository's own GDK project: a recipe-only component at the root, beside components/."""
    write(str(repo / "recipes" / "test.Collection.yaml"), COLLECTION_RECIPE)
    config = json.loads(gdk_config("test.Collection", "2.0.0"))
    config["component"]["test.Collection"]["build"]["custom_build_command"] = ["python3", "scripts/build",
                                                                               "--gdk"]
    write(str(repo / "gdk-config.json"), json.dumps(config))
    os.symlink("recipes/test.Collection.yaml", str(repo / "recipe.yaml"))


def test_a_recipe_only_component_builds_to_its_recipe_alone(repo):
    add_collection_project(repo)
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 0, result.stderr
    assert "recipes/test.Collection.yaml" in built_files(repo / "out")
    assert not [name for name in built_files(repo / "out") if name.startswith("artifacts/test.Collection")]
    # GDK publish reads it:
    assert os.path.isdir(str(repo / "out" / "artifacts" / "test.Collection" / "2.0.0"))
    built = yaml.safe_load((repo / "out" / "recipes" / "test.Collection.yaml").read_text())
    assert built["ComponentDependencies"] == {"test.Alpha": {"VersionRequirement": ">=0.3.0"}}


def test_gdk_mode_at_the_collection_root_builds_every_component(repo):
    add_collection_project(repo)
    result = run_build(repo, "--gdk", cwd=repo)
    assert result.returncode == 0, result.stderr
    output = repo / "greengrass-build"
    assert sorted(os.listdir(str(output / "recipes"))) == ["test.Alpha.yaml", "test.Collection.yaml"]
    assert os.path.isfile(str(output / "artifacts" / "test.Alpha" / "0.3.1" / "test.Alpha.zip"))


def test_a_component_with_artifacts_but_no_main_py_is_an_error(repo):
    os.unlink(str(repo / "components" / "alpha" / "main.py"))
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 1 and "has no main.py" in result.stderr


def test_help_describes_the_modes():
    result = subprocess.run([sys.executable, "-S", BUILD, "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    for option in ("--component", "--gdk", "--output-dir", "--components-dir", "--shared-dir",
                   "--recipes-dir", "--version"):
        assert option in result.stdout


def test_flow_style_artifacts_are_refused_rather_than_misread(repo):
    write(str(repo / "recipes" / "test.Alpha.yaml"), textwrap.dedent("""\
        RecipeFormatVersion: "2020-01-25"
        ComponentName: test.Alpha
        ComponentVersion: "0.3.1"
        Manifests:
          - Artifacts: [{URI: s3://b/test.Alpha.zip}]
        """))
    result = run_build(repo, "--output-dir", str(repo / "out"))
    assert result.returncode == 1 and "on its own line" in result.stderr


# ---------------------------------------------------------------- the real components and GDK's schemas

def lower_keys(value):
    """Keys lower-cased recursively, as GDK's RecipeValidator does before validating."""
    if isinstance(value, dict):
        return {str(key).lower(): lower_keys(child) for key, child in value.items()}
    if isinstance(value, list):
        return [lower_keys(child) for child in value]
    return value


def real_gdk_configs():
    """Every component folder's GDK project and the collection's own (ggvision.Pipeline) at the root."""
    return sorted(glob.glob(os.path.join(ROOT, "components", "*", "gdk-config.json"))) + \
        [os.path.join(ROOT, "gdk-config.json")]


needs_reference = pytest.mark.skipif(not os.path.isdir(GDK_REFERENCE),
                                     reason="the GDK schemas in ../shared/reference/gdk are not here")


@needs_reference
def test_real_gdk_configs_follow_the_gdk_schema():
    if not real_gdk_configs():
        pytest.skip("no component yet")
    with open(os.path.join(GDK_REFERENCE, "config_schema.json")) as stream:
        schema = json.load(stream)
    for path in real_gdk_configs():
        with open(path) as stream:
            config = json.load(stream)
        jsonschema.validate(config, schema)
        (name, settings), = config["component"].items()
        assert settings["build"]["custom_build_command"][-1] == "--gdk", path
        recipe = os.path.join(os.path.dirname(path), "recipe.yaml")
        assert os.path.realpath(recipe) == os.path.join(ROOT, "recipes", name + ".yaml"), path


def this_machine():
    """--platform and --python for this machine as a device (the wheels of every platform and Python
    are a release build's business: hundreds of MB)."""
    from local_nucleus.device import device_python, host_platform, python_version

    return ["--platform", host_platform(), "--python", python_version(device_python())]


@needs_reference
def test_real_components_build_into_recipes_that_follow_the_gdk_schema(tmp_path):
    if not real_gdk_configs():
        pytest.skip("no component yet")
    result = subprocess.run([sys.executable, "-S", BUILD, "--output-dir", str(tmp_path)] + this_machine(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(GDK_REFERENCE, "recipe_schema.json")) as stream:
        schema = json.load(stream)
    recipes = sorted(glob.glob(str(tmp_path / "recipes" / "*")))
    assert len(recipes) == len(real_gdk_configs())
    for path in recipes:
        with open(path) as stream:
            built = yaml.safe_load(stream)
        jsonschema.validate(lower_keys(built), schema)
        name, version = built["ComponentName"], built["ComponentVersion"]
        with open(os.path.join(ROOT, "recipes", os.path.basename(path))) as stream:
            source = yaml.safe_load(stream)
        assert {key: value for key, value in built.items() if key not in ("ComponentPublisher",)} == \
            {key: value for key, value in source.items() if key not in ("ComponentPublisher",)}, path
        platform = this_machine()[1]
        for manifest in built["Manifests"]:
            for artifact in manifest.get("Artifacts", []):
                file_name = artifact["URI"].rsplit("/", 1)[-1]
                other_platform = re.search(r"-(x86_64|aarch64|armv7l|jetson)\.zip$", file_name)
                built_here = (platform, "jetson" if platform == "aarch64" else platform)
                if other_platform and other_platform.group(1) not in built_here:
                    continue  # generated for another platform: not in this build (--platform)
                assert os.path.isfile(str(tmp_path / "artifacts" / name / version / file_name)), file_name
    with zipfile.ZipFile(str(tmp_path / "artifacts" / "ggvision.DLRRuntime" / "0.1.0" /
                             "ggvision.DLRRuntime.zip")) as archive:
        # the installer, what it installs of ours, and nothing of the build's inputs (dlr-builds/, locks)
        assert archive.namelist() == ["ggvision-0.1.0-py3-none-any.whl", "install.py", "main.py",
                                      "runtime.json"]


@needs_reference
@pytest.mark.parametrize("project", [os.path.dirname(path) for path in real_gdk_configs()],
                         ids=lambda path: os.path.basename(path) or "root")
def test_gdk_component_build_passes_in_every_component_folder(project, tmp_path):
    """What `gdk component build` runs there: gdk-config's custom_build_command, unmodified, in that
    folder (narrowed to this machine through the environment, as a user may do under GDK)."""
    with open(os.path.join(project, "gdk-config.json")) as stream:
        config = json.load(stream)
    (name, settings), = config["component"].items()
    command = settings["build"]["custom_build_command"] + ["--output-dir", str(tmp_path / "greengrass-build")]
    platform, python = this_machine()[1], this_machine()[3]
    environment = dict(os.environ, GGVISION_BUILD_PLATFORMS=platform, GGVISION_BUILD_PYTHONS=python)
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600,
                            env=environment)
    assert result.returncode == 0, result.stderr
    folder = settings["version"]  # GDK reads artifacts/<name>/<the gdk-config version as written>
    recipe = yaml.safe_load((tmp_path / "greengrass-build" / "recipes" / (name + ".yaml")).read_text())
    assert recipe["ComponentName"] == name
    if any(manifest.get("Artifacts") for manifest in recipe["Manifests"]):
        assert (tmp_path / "greengrass-build" / "artifacts" / name / folder / (name + ".zip")).is_file()
