"""The few recipe fields scripts/build reads and rewrites, edited in the author's own text (plain
Python 3.8+, no packages: the build runs with a bare python3 under the GDK CLI)."""

import json
import re
from typing import Dict, List, Optional, Set, Tuple

PLACEHOLDER_VERSION = "{COMPONENT_VERSION}"


class BuildError(Exception):
    """Something the build cannot do, with the reason for the user."""


def _scalar(raw: str) -> str:
    # A one-line YAML scalar: quoted or plain, with an optional trailing comment.
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        while quote == "'" and end != -1 and raw[end + 1:end + 2] == "'":
            end = raw.find(quote, end + 2)
        if end == -1:
            raise BuildError(f"unterminated quoted value: {raw}")
        body = raw[1:end]
        return json.loads(raw[:end + 1]) if quote == '"' else body.replace("''", "'")
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


class RecipeText:
    """The few recipe fields the build reads and rewrites, kept in the author's own text.

    YAML recipes are edited line by line (comments and layout survive) without a YAML library, so the
    build runs on a bare Python; top-level keys and artifact `URI:` keys must be one-line scalars.
    """

    TOP = re.compile(r"^(ComponentName|ComponentVersion|ComponentPublisher)\s*:(.*)$", re.IGNORECASE)
    URI = re.compile(r"^(\s*(?:-\s+)?)(uri)(\s*:\s*)(.*?)\s*$", re.IGNORECASE)

    def __init__(self, path: str) -> None:
        self.path = path
        self.is_json = path.endswith(".json")
        try:
            with open(path, encoding="utf-8") as stream:
                self.text = stream.read()
        except OSError as error:
            raise BuildError(f"cannot read recipe {path}: {error}") from error
        if self.is_json:
            try:
                self.data = json.loads(self.text)
            except ValueError as error:
                raise BuildError(f"{path}: invalid JSON: {error}") from error
            if not isinstance(self.data, dict):
                raise BuildError(f"{path}: a recipe must be a JSON object")

    # -- reading
    def field(self, name: str) -> Optional[str]:
        if self.is_json:
            for key, value in self.data.items():
                if key.lower() == name.lower():
                    return None if value is None else str(value)
            return None
        for line in self.text.splitlines():
            match = self.TOP.match(line)
            if match and match.group(1).lower() == name.lower():
                value = _scalar(match.group(2))
                if value in ("", ">", "|", ">-", "|-"):
                    raise BuildError(f"{self.path}: write {name} on one line")
                return value
        return None

    def artifact_uris(self) -> List[str]:
        if self.is_json:
            uris = []
            for manifest in _ci(self.data, "Manifests") or []:
                for artifact in _ci(manifest, "Artifacts") or []:
                    uri = _ci(artifact, "URI")
                    if isinstance(uri, str):
                        uris.append(uri)
            return uris
        uris = []
        mentions = 0
        for line in self._manifest_lines():
            mentions += len(re.findall(r"\buri\s*:", line, re.IGNORECASE))
            match = self.URI.match(line)
            if match:
                uris.append(_scalar(match.group(4)))
        if mentions != len(uris):
            raise BuildError(f"{self.path}: write each artifact as '- URI: ...' on its own line "
                             "(flow-style artifacts are not supported by the build)")
        return uris

    def _manifest_lines(self) -> List[str]:
        inside = False
        lines = []
        for line in self.text.splitlines():
            if line[:1] not in ("", " ", "\t", "#", "-"):
                inside = line.split(":", 1)[0].strip().lower() == "manifests"
                continue
            if inside:
                lines.append(line)
        return lines

    # -- rewriting
    def render(self, name: str, version: str, author: Optional[str], built: Set[str],
               dependency_versions: Optional[Dict[str, str]] = None) -> str:
        """The final recipe text; each dependency named in `dependency_versions` requires that version."""
        dependency_versions = dependency_versions or {}
        def uri_for(uri: str) -> str:
            file_name = uri.rstrip("/").rsplit("/", 1)[-1]
            if uri.startswith("s3://") and file_name in built:
                return f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{file_name}"
            return uri

        substitutions = {"{COMPONENT_NAME}": name, PLACEHOLDER_VERSION: version,
                         "{COMPONENT_AUTHOR}": author or ""}
        if self.is_json:
            data = json.loads(_substitute(self.text, substitutions, json_strings=True))
            _ci_set(data, "ComponentVersion", version)
            dependencies = _ci(data, "ComponentDependencies")
            for dependency, settings in (dependencies.items() if isinstance(dependencies, dict) else ()):
                if dependency in dependency_versions and _ci(settings, "VersionRequirement") is not None:
                    _ci_set(settings, "VersionRequirement", dependency_versions[dependency])
            if author:
                _ci_set(data, "ComponentPublisher", author)
            for manifest in _ci(data, "Manifests") or []:
                for artifact in _ci(manifest, "Artifacts") or []:
                    uri = _ci(artifact, "URI")
                    if isinstance(uri, str):
                        _ci_set(artifact, "URI", uri_for(uri))
            return json.dumps(data, indent=2) + "\n"

        out: List[str] = []
        has_publisher = self.field("ComponentPublisher") is not None
        inside = False
        in_dependencies, dependency_indent, dependency = False, None, None
        for line in _substitute(self.text, substitutions, json_strings=False).splitlines(keepends=True):
            body = line.rstrip("\r\n")
            ending = line[len(body):]
            if body[:1] not in ("", " ", "\t", "#", "-"):
                top_key = body.split(":", 1)[0].strip().lower()
                inside = top_key == "manifests"
                in_dependencies = top_key == "componentdependencies"
                dependency_indent, dependency = None, None
                if in_dependencies and dependency_versions and _scalar(body.split(":", 1)[1]):
                    raise BuildError(f"{self.path}: write ComponentDependencies in block style, one "
                                     "dependency a line, for --version to set their VersionRequirement")
            elif in_dependencies and dependency_versions:
                dependency_indent, dependency, line = self._dependency_line(
                    body, ending, dependency_indent, dependency, dependency_versions)
            top = self.TOP.match(body)
            if top:
                # Lines are rewritten only when their value changes, to keep the author's text.
                key, current = top.group(1), _scalar(top.group(2))
                if key.lower() == "componentversion":
                    out.append(line if current == version else f"{key}: {json.dumps(version)}{ending}")
                    if author and not has_publisher:
                        out.append(f"ComponentPublisher: {json.dumps(author)}{ending}")
                    continue
                if key.lower() == "componentpublisher" and author and current != author:
                    out.append(f"{key}: {json.dumps(author)}{ending}")
                    continue
            uri = self.URI.match(body) if inside else None
            if uri:
                out.append(f"{uri.group(1)}{uri.group(2)}{uri.group(3)}{uri_for(_scalar(uri.group(4)))}{ending}")
                continue
            out.append(line)
        return "".join(out)

    DEPENDENCY_KEY = re.compile(r"^(\s+)([^\s#][^:]*?)\s*:(.*)$")

    def _dependency_line(self, body: str, ending: str, indent: Optional[int], dependency: Optional[str],
                         versions: Dict[str, str]) -> Tuple[Optional[int], Optional[str], str]:
        # One line inside ComponentDependencies: (its dependencies' indent, the current one, the line).
        match = self.DEPENDENCY_KEY.match(body)
        line = body + ending
        if not match:
            return indent, dependency, line
        key, value = _scalar(match.group(2)), _scalar(match.group(3))
        if indent is None or len(match.group(1)) <= indent:
            indent, dependency = len(match.group(1)), key
            if dependency in versions and value:
                raise BuildError(f"{self.path}: write the {dependency} dependency in block style "
                                 "(VersionRequirement on its own line) for --version to set it")
        elif dependency in versions and key.lower() == "versionrequirement":
            if value in ("", ">", "|", ">-", "|-"):
                raise BuildError(f"{self.path}: write the VersionRequirement of {dependency} on one line")
            line = f"{match.group(1)}{match.group(2)}: {json.dumps(versions[dependency])}{ending}"
        return indent, dependency, line


def _substitute(text: str, substitutions: Dict[str, str], json_strings: bool) -> str:
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, json.dumps(value)[1:-1] if json_strings else value)
    return text


def _ci(mapping: object, key: str) -> object:
    if isinstance(mapping, dict):
        for name, value in mapping.items():
            if name.lower() == key.lower():
                return value
    return None


def _ci_set(mapping: Dict[str, object], key: str, value: object) -> None:
    for name in mapping:
        if name.lower() == key.lower():
            mapping[name] = value
            return
    mapping[key] = value
