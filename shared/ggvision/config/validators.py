"""Validators for configuration values: each takes the raw value from the recipe/deployment and
returns the typed value or raises `Invalid` with what is allowed.

Greengrass configuration arrives as JSON, and the console often turns numbers into strings, so
number validators accept numeric strings as well.
"""

import dataclasses
import math
import re
from typing import Any, Callable, List, Optional, Sequence

Validator = Callable[[Any], Any]


class Invalid(ValueError):
    """A value is not allowed; `allowed` says what would be.

    `nested=True` carries the value to show: under `key` within the setting (`.Name`, `[2]`), or the
    setting itself when `key` is empty (a validator that must not show the raw value, e.g. a secret).
    """

    def __init__(self, allowed: str, key: str = "", value: Any = None, nested: bool = False) -> None:
        super().__init__(allowed)
        self.allowed = allowed
        self.key = key
        self.value = value
        self.nested = nested


def _as_number(value: Any) -> Optional[float]:
    """A finite number, or None: NaN, infinities ("inf", "1e999") and huge ints are not settings."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            parsed = float(value)
        elif isinstance(value, str):
            parsed = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return parsed if math.isfinite(parsed) else None


def _range_text(kind: str, minimum: Optional[float], maximum: Optional[float]) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"{kind} of at least {minimum:g}"
    if maximum is not None:
        return f"{kind} of at most {maximum:g}"
    return kind


def number(minimum: Optional[float] = None, maximum: Optional[float] = None) -> Validator:
    allowed = _range_text("a number", minimum, maximum)

    def check(value: Any) -> float:
        parsed = _as_number(value)
        if parsed is None or parsed != parsed:  # NaN
            raise Invalid(allowed)
        if (minimum is not None and parsed < minimum) or (maximum is not None and parsed > maximum):
            raise Invalid(allowed)
        return parsed

    return check


def integer(minimum: Optional[int] = None, maximum: Optional[int] = None) -> Validator:
    allowed = _range_text("a whole number", minimum, maximum)

    def check(value: Any) -> int:
        parsed = _as_number(value)
        if parsed is None or parsed != int(parsed):
            raise Invalid(allowed)
        if (minimum is not None and parsed < minimum) or (maximum is not None and parsed > maximum):
            raise Invalid(allowed)
        return int(parsed)

    return check


def boolean() -> Validator:
    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise Invalid("true or false")

    return check


def string(pattern: Optional[str] = None, non_empty: bool = True, max_length: int = 4096) -> Validator:
    compiled = re.compile(pattern) if pattern else None
    if compiled:
        allowed = f"a string matching {pattern}"
    else:
        allowed = "a non-empty string" if non_empty else "a string"

    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > max_length:
            raise Invalid(allowed)
        if non_empty and not value:
            raise Invalid(allowed)
        if compiled and not compiled.match(value):
            raise Invalid(allowed)
        return value

    return check


def one_of(choices: Sequence[Any], case_insensitive: bool = True) -> Validator:
    allowed = "one of " + ", ".join(str(c) for c in choices)

    def check(value: Any) -> Any:
        for choice in choices:
            if value == choice:
                return choice
            both_text = isinstance(value, str) and isinstance(choice, str)
            if case_insensitive and both_text and value.lower() == choice.lower():
                return choice
        raise Invalid(allowed)

    return check


def optional(inner: Validator) -> Validator:
    """None, a missing key or an empty string mean "not set" (the console cannot store null)."""

    def check(value: Any) -> Any:
        if value is None or value == "":
            return None
        return inner(value)

    return check


def list_of(item: Validator, min_items: int = 0, max_items: int = 1000) -> Validator:
    def check(value: Any) -> List[Any]:
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise Invalid(f"a list of {min_items} to {max_items} items")
        result = []
        for index, element in enumerate(value):
            try:
                result.append(item(element))
            except Invalid as error:
                prefix = f"[{index}]"
                if error.nested:
                    raise Invalid(error.allowed, prefix + "." + error.key, error.value, nested=True) from None
                raise Invalid(error.allowed, prefix, element, nested=True) from None
        return result

    return check


def nested(config_type: type) -> Validator:
    """A JSON object parsed into another settings dataclass."""

    def check(value: Any) -> Any:
        from . import _parse  # late import: validators is imported by the package itself

        return _parse(config_type, value)

    if not dataclasses.is_dataclass(config_type):
        raise TypeError("nested() takes a dataclass")
    return check


_TOPIC_FORBIDDEN = re.compile(r"[#+*]")


def topic(placeholders: Sequence[str] = ()) -> Validator:
    """A local pub/sub topic to publish on: no wildcards; `{Name}` placeholders from `placeholders`."""
    allowed = "a topic without +, # or * (placeholders: {})".format(
        ", ".join("{" + p + "}" for p in placeholders) or "none"
    )

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > 256 or _TOPIC_FORBIDDEN.search(value):
            raise Invalid(allowed)
        for name in re.findall(r"{([^{}]*)}", value):
            if name not in placeholders:
                raise Invalid(allowed)
        return value

    return check


def topic_filter() -> Validator:
    """A topic to subscribe to: MQTT wildcards allowed where MQTT allows them."""
    allowed = "a topic filter ('+' for one whole level, '#' only as the last level)"

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > 256:
            raise Invalid(allowed)
        levels = value.split("/")
        for index, level in enumerate(levels):
            if "#" in level and (level != "#" or index != len(levels) - 1):
                raise Invalid(allowed)
            if "+" in level and level != "+":
                raise Invalid(allowed)
        return value

    return check


def mqtt_topic(placeholders: Sequence[str] = ("iot:thingName",)) -> Validator:
    """An IoT Core topic to publish on (no wildcards, at most 7 slashes, not `$`-reserved)."""
    local = topic(placeholders)

    def check(value: Any) -> str:
        checked = local(value)
        if checked.startswith("$") or checked.count("/") > 7:
            raise Invalid("an MQTT topic with at most 8 levels, not starting with $")
        return checked

    return check
