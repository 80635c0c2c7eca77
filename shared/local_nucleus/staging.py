"""Artifacts as the nucleus lays them out: copied under `packages/artifacts`, `Unarchive: ZIP` ones
unpacked under `packages/artifacts-unarchived`, file modes from the recipe's `Permission`."""

import logging
import os
import shutil
import zipfile
from typing import Sequence

from .plan import ComponentPlan, LauncherError

_log = logging.getLogger("local_nucleus.staging")


def stage_artifacts(plan: ComponentPlan, artifact_dirs: Sequence[str]) -> None:
    """Copy the manifest's artifacts from `<artifact-dir>/<Name>/<Version>/<file>` (the greengrass-cli
    --artifactDir layout) into the run folder, unzip `Unarchive: ZIP` ones, create the work folder."""
    name, version = plan.recipe.name, plan.recipe.version
    for folder in (plan.paths.artifacts, plan.paths.decompressed):
        shutil.rmtree(folder, ignore_errors=True)  # a fresh copy each launch: never a stale build
        os.makedirs(folder)
    os.makedirs(plan.paths.work, exist_ok=True)
    for artifact in plan.manifest.artifacts:
        if artifact.uri.startswith("docker:"):
            _log.warning("%s: docker artifact %s is not pulled by the local nucleus", name, artifact.uri)
            continue
        candidates = [os.path.join(folder, name, version, artifact.file_name) for folder in artifact_dirs]
        source = next((path for path in candidates if os.path.isfile(path)), None)
        if source is None:
            raise LauncherError(f"{name}: artifact {artifact.file_name} not found (looked for "
                                f"{', '.join(candidates)}); build it with scripts/build")
        target = os.path.join(plan.paths.artifacts, artifact.file_name)
        shutil.copyfile(source, target)
        _apply_permission(target, artifact.read, artifact.execute)
        if artifact.unarchive == "ZIP":
            stem = artifact.file_name
            if stem.lower().endswith(".zip"):
                stem = stem[:-4]
            _unzip(target, os.path.join(plan.paths.decompressed, stem), artifact.read, artifact.execute)
        elif artifact.unarchive != "NONE":
            raise LauncherError(f"{name}: Unarchive {artifact.unarchive} is not supported (ZIP or NONE)")


def _apply_permission(path: str, read: str, execute: str) -> None:
    # The nucleus sets each artifact file's mode from the recipe's Permission (default Read OWNER).
    mode = {"OWNER": 0o400, "ALL": 0o444}.get(read, 0)
    mode |= {"OWNER": 0o100, "ALL": 0o111}.get(execute, 0)
    os.chmod(path, mode | 0o200)  # owner-writable so that the next launch can replace it


def _unzip(archive: str, destination: str, read: str, execute: str) -> None:
    root = os.path.realpath(destination)
    os.makedirs(root, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                target = os.path.realpath(os.path.join(root, member.filename))
                if not target.startswith(root + os.sep):
                    raise LauncherError(f"{archive}: entry {member.filename!r} is outside the archive folder")
                if member.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zipped.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1024 * 1024)
                _apply_permission(target, read, execute)
    except zipfile.BadZipFile as error:
        raise LauncherError(f"{archive} is not a valid ZIP: {error}") from error
