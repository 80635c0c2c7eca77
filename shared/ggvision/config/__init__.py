"""Component configuration: a settings dataclass per component, read through IPC and validated.

Every field names its Greengrass key and validator with `setting(...)`. There are no defaults here:
defaults live in the recipe's DefaultConfiguration only, so a missing key is an error that names it.
`live=True` marks settings a running service can take without being rebuilt.
"""

import dataclasses
from typing import Any, Dict, List, Type, TypeVar

from . import validators
from .validators import Invalid, Validator

__all__ = ["ConfigError", "changed_settings", "parse_config", "setting", "validators"]

T = TypeVar("T")


class ConfigError(ValueError):
    """An invalid configuration, with one clear message that names the key, the value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(
            f"Invalid configuration: {key} = {_show(value)} (allowed: {allowed})"
        )
        self.key = key
        self.value = value
        self.allowed = allowed


_MISSING_TEXT = "<missing>"


def _show(value: Any) -> str:
    if value is _MISSING:
        return _MISSING_TEXT
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class _Missing:
    pass


_MISSING = _Missing()


def setting(key: str, validator: Validator, live: bool = False) -> Any:
    """Declare a dataclass field read from configuration key `key`."""
    return dataclasses.field(metadata={"key": key, "validator": validator, "live": live})


def _parse(config_type: Type[T], raw: Any) -> T:
    if not isinstance(raw, dict):
        raise Invalid("an object with keys " + ", ".join(_keys(config_type)))
    values: Dict[str, Any] = {}
    for field in dataclasses.fields(config_type):
        key = field.metadata["key"]
        value = raw.get(key, _MISSING)
        try:
            if value is _MISSING:
                # optional() settings may be absent; everything else must come from the recipe.
                value = field.metadata["validator"](None)
            else:
                value = field.metadata["validator"](value)
        except Invalid as error:
            if error.nested:
                # An empty key: the setting itself, with the value the validator chose to show
                # (e.g. a URL without its credentials).
                separator = "" if error.key.startswith("[") or not error.key else "."
                joined = key + separator + error.key
                raise Invalid(error.allowed, joined, error.value, nested=True) from None
            allowed = error.allowed if value is not _MISSING else "required; " + error.allowed
            raise Invalid(allowed, key, value, nested=True) from None
        values[field.name] = value
    return config_type(**values)


def _keys(config_type: type) -> List[str]:
    return [f.metadata["key"] for f in dataclasses.fields(config_type)]


def parse_config(config_type: Type[T], raw: Any) -> T:
    """Build `config_type` from a configuration dict, or raise ConfigError naming the first bad key."""
    try:
        return _parse(config_type, raw)
    except Invalid as error:
        value = error.value if error.nested else raw
        raise ConfigError(error.key or "<root>", value, error.allowed) from None


def changed_settings(old: Any, new: Any) -> Dict[str, bool]:
    """Top-level keys whose values differ between two parsed configurations → whether each is live."""
    changed = {}
    for field in dataclasses.fields(old):
        if getattr(old, field.name) != getattr(new, field.name):
            changed[field.metadata["key"]] = bool(field.metadata["live"])
    return changed
