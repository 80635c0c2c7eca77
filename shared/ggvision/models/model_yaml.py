"""`model.yaml`: parsed with `yaml.safe_load` and checked key by key.

```yaml
name: my-detector            # default: the folder's name
version: "3"
input:  {name, width, height, layout, channel_order, resize, scale, mean, std, dtype}
output: {layout, names, nms_iou, objectness, class_id_offset}
labels: [person, car]        # or {0: person, 7: car}; or a labels.txt file
```

Every mistake is a `ValueError` naming the file, the key, the value and what is allowed.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence

import yaml

from .spec import CHANNEL_ORDERS, DTYPES, LAYOUTS, OUTPUT_LAYOUTS, RESIZES

MAX_SIDE = 8192


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, value: Any, allowed: str) -> ValueError:
        return ValueError(f"{self.source}: {key}: {value!r} is not allowed (allowed: {allowed})")

    def mapping(self, key: str, value: Any, allowed_keys: Sequence[str]) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key or "the file", value, f"a mapping with the keys {', '.join(allowed_keys)}")
        for name in value:
            if name not in allowed_keys:
                where = f"{key}.{name}" if key else str(name)
                raise ValueError(f"{self.source}: unknown key {where!r} (allowed"
                                 f"{' in ' + key if key else ''}: {', '.join(allowed_keys)})")
        return value

    def text(self, key: str, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
            raise self.fail(key, value, "a non-empty string")
        return str(value).strip()

    def choice(self, key: str, value: Any, choices: Sequence[str]) -> str:
        if isinstance(value, str):
            for choice in choices:
                if value.strip().lower() == choice.lower():
                    return choice
        raise self.fail(key, value, ", ".join(choices))

    def integer(self, key: str, value: Any, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(key, value, f"a whole number from {minimum} to {maximum}")
        return value

    def number(self, key: str, value: Any, allowed: str, valid: Callable[[float], bool]) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                or not valid(float(value)):
            raise self.fail(key, value, allowed)
        return float(value)

    def triple(self, key: str, value: Any, positive: bool) -> List[float]:
        allowed = "a list of 3 numbers, one per channel in channel_order"
        allowed += ", all above 0" if positive else ""
        valid = (lambda v: 0 < v < float("inf")) if positive else (lambda v: abs(v) < float("inf"))
        if not isinstance(value, list) or len(value) != 3:
            raise self.fail(key, value, allowed)
        return [self.number(key, item, allowed, valid) for item in value]

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, value, "true or false")
        return value

    def names(self, key: str, value: Any) -> List[str]:
        allowed = "a list of distinct output names"
        if not isinstance(value, list) or not value:
            raise self.fail(key, value, allowed)
        names = [self.text(key, item) for item in value]
        if len(set(names)) != len(names):
            raise self.fail(key, value, allowed)
        return names

    def labels(self, key: str, value: Any) -> Dict[int, str]:
        if isinstance(value, list):
            # The list index is the class id; null or "" leaves an id without a name.
            return {class_id: self.text(f"{key}[{class_id}]", name)
                    for class_id, name in enumerate(value) if name is not None and name != ""}
        if isinstance(value, dict):
            labels = {}
            for class_id, name in value.items():
                if isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0:
                    raise self.fail(key, class_id, "class ids that are whole numbers from 0")
                labels[class_id] = self.text(f"{key}[{class_id}]", name)
            return labels
        raise self.fail(key, value,
                        "a list of class names (index = class id) or a mapping of class id to name")


TOP_KEYS = ("name", "version", "input", "output", "labels")
INPUT_KEYS = ("name", "width", "height", "layout", "channel_order", "resize", "scale", "mean", "std", "dtype")
OUTPUT_KEYS = ("layout", "names", "nms_iou", "objectness", "class_id_offset")


def parse_model_yaml(text: str, source: str = "model.yaml") -> Dict[str, Any]:
    """`model.yaml` text → the `ModelSpec` fields it sets (only those)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ValueError(f"{source}: not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    return model_fields(data, source)


def model_fields(data: Any, source: str = "model.yaml") -> Dict[str, Any]:
    """A parsed `model.yaml` document → the `ModelSpec` fields it sets."""
    check = _Checker(source)
    top = check.mapping("", data, TOP_KEYS)
    fields: Dict[str, Any] = {}
    if "name" in top:
        fields["name"] = check.text("name", top["name"])
    if "version" in top:
        fields["version"] = check.text("version", top["version"])
    if "labels" in top:
        fields["labels"] = check.labels("labels", top["labels"])
    fields.update(_input_fields(check, top.get("input")))
    fields.update(_output_fields(check, top.get("output")))
    return fields


def _input_fields(check: _Checker, section: Optional[Any]) -> Dict[str, Any]:
    if section is None:
        return {}
    section = check.mapping("input", section, INPUT_KEYS)
    readers = {
        "name": lambda v: check.text("input.name", v),
        "width": lambda v: check.integer("input.width", v, 1, MAX_SIDE),
        "height": lambda v: check.integer("input.height", v, 1, MAX_SIDE),
        "layout": lambda v: check.choice("input.layout", v, LAYOUTS),
        "channel_order": lambda v: check.choice("input.channel_order", v, CHANNEL_ORDERS),
        "resize": lambda v: check.choice("input.resize", v, RESIZES),
        "scale": lambda v: check.number("input.scale", v,
                                        "a number above 0 (e.g. 0.00392156862745098 = 1/255)",
                                        lambda x: 0 < x < float("inf")),
        "mean": lambda v: check.triple("input.mean", v, positive=False),
        "std": lambda v: check.triple("input.std", v, positive=True),
        "dtype": lambda v: check.choice("input.dtype", v, DTYPES),
    }
    target = {"name": "input_name"}
    return {target.get(key, key): readers[key](value) for key, value in section.items()}


def _output_fields(check: _Checker, section: Optional[Any]) -> Dict[str, Any]:
    if section is None:
        return {}
    section = check.mapping("output", section, OUTPUT_KEYS)
    readers = {
        "layout": lambda v: check.choice("output.layout", v, OUTPUT_LAYOUTS),
        "names": lambda v: check.names("output.names", v),
        "nms_iou": lambda v: check.number("output.nms_iou", v, "a number above 0, at most 1",
                                          lambda x: 0 < x <= 1),
        "objectness": lambda v: check.boolean("output.objectness", v),
        "class_id_offset": lambda v: check.integer("output.class_id_offset", v, 0, 1000),
    }
    target = {"layout": "output_layout", "names": "output_names"}
    return {target.get(key, key): readers[key](value) for key, value in section.items()}
