"""Message contracts: one JSON Schema file per message kind, and one way to check a message.

A message names its contract in its `schema` field (`"ggvision.<kind>/<major>"`); the schema file is
`schemas/<kind>-<major>.json`. Schemas refer to each other by file name, resolved from this folder
only (never fetched). jsonschema is imported at the first check or schema lookup, not with this
module (ContractError and the schema names cost nothing; jsonschema and referencing about 7 MiB).
"""

import json
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Dict, Iterator

if TYPE_CHECKING:
    from jsonschema import Draft7Validator
    from referencing import Registry

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")
_NAME = re.compile(r"^ggvision\.([a-z][a-z0-9-]*)/([0-9]+)$")


class ContractError(ValueError):
    """A message does not follow its contract. `path` points at the offending field."""

    def __init__(self, schema: str, path: str, reason: str) -> None:
        super().__init__("{} violates {} at {}: {}".format("message", schema or "?", path or "/", reason))
        self.schema = schema
        self.path = path
        self.reason = reason


def schema_file(name: str) -> str:
    """`ggvision.frame/1` → `frame-1.json`."""
    match = _NAME.match(name)
    if not match:
        raise ContractError(name, "/schema", "not a ggvision schema name (ggvision.<kind>/<major>)")
    return f"{match.group(1)}-{match.group(2)}.json"


@lru_cache(maxsize=None)
def _registry() -> "Registry":
    from referencing import Registry, Resource

    resources = []
    for file_name in sorted(os.listdir(SCHEMA_DIR)):
        if file_name.endswith(".json"):
            with open(os.path.join(SCHEMA_DIR, file_name)) as f:
                resources.append((file_name, Resource.from_contents(json.load(f))))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def _validator(file_name: str) -> "Draft7Validator":
    from jsonschema import Draft7Validator

    try:
        schema = _registry()[file_name].contents
    except LookupError:
        raise ContractError(file_name, "/schema", "unknown schema") from None
    return Draft7Validator(schema, registry=_registry())


def schema_for(name: str) -> Dict[str, Any]:
    """The JSON Schema (a dict) of a message kind, e.g. `schema_for("ggvision.frame/1")`."""
    return dict(_validator(schema_file(name)).schema)


def known_schemas() -> Iterator[str]:
    """Names of every message kind with a schema file, e.g. `ggvision.frame/1`."""
    for file_name in sorted(os.listdir(SCHEMA_DIR)):
        kind, _, major = file_name[: -len(".json")].rpartition("-")
        yield f"ggvision.{kind}/{major}"


def validate(message: Any, schema: str = "") -> None:
    """Raise ContractError unless `message` follows its contract.

    The contract is the message's own `schema` field, or `schema` when given (which the message's
    field must then equal).
    """
    if not isinstance(message, dict):
        raise ContractError(schema, "/", "a message must be a JSON object")
    declared = message.get("schema")
    name = schema or declared
    if not isinstance(name, str):
        raise ContractError("", "/schema", "missing schema field")
    if schema and declared != schema:
        raise ContractError(schema, "/schema", f"expected {schema!r}, got {declared!r}")
    validator = _validator(schema_file(name))
    error = next(iter(sorted(validator.iter_errors(message), key=lambda e: e.path)), None)
    if error is not None:
        path = "/" + "/".join(str(p) for p in error.absolute_path)
        raise ContractError(name, path, _short(error.message))


def _short(text: str, limit: int = 200) -> str:
    # jsonschema quotes whole offending values (a base64 body can be megabytes): keep logs readable.
    return text if len(text) <= limit else text[:limit] + "…"
