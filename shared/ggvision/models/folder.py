"""The model folder: model files, optional `model.yaml`, optional `labels.txt` → `ModelSpec`."""

import json
import os
from typing import Any, Dict

from .labels import read_labels
from .model_yaml import parse_model_yaml
from .spec import ModelSpec

MODEL_YAML = "model.yaml"
LABELS_TXT = "labels.txt"
NEO_META = "compiled.meta"


def load_model_spec(model_dir: str) -> ModelSpec:
    """Read the spec of the model in `model_dir` (a folder, or a model file whose folder is read).

    Unset values come from SageMaker Neo's `compiled.meta` (input name and size) when there is one, then
    from the `ModelSpec` defaults. Raises `ValueError` for an invalid file, `OSError` for an unreadable one.
    """
    if os.path.isfile(model_dir):
        folder, default_name = os.path.dirname(os.path.abspath(model_dir)), os.path.splitext(
            os.path.basename(model_dir))[0]
    elif os.path.isdir(model_dir):
        folder = os.path.abspath(model_dir)
        default_name = os.path.basename(folder.rstrip(os.sep)) or "model"
    else:
        raise FileNotFoundError(f"model folder {model_dir} does not exist")
    fields: Dict[str, Any] = {"name": default_name}
    fields.update(_neo_input(os.path.join(folder, NEO_META)))
    yaml_path = os.path.join(folder, MODEL_YAML)
    if os.path.isfile(yaml_path):
        with open(yaml_path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(f"{yaml_path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        fields.update(parse_model_yaml(text, yaml_path))
    labels_path = os.path.join(folder, LABELS_TXT)
    if os.path.isfile(labels_path):
        if "labels" in fields:
            raise ValueError(f"{yaml_path}: labels: the labels are given twice, here and in {labels_path} "
                             "(allowed: one of the two)")
        fields["labels"] = read_labels(labels_path)
    stated = tuple(sorted(name for name in fields if name != "name"))
    return ModelSpec(model_dir=folder, stated=stated, **fields)


def _neo_input(meta_path: str) -> Dict[str, Any]:
    """Input name and size from Neo's `compiled.meta` ({"Model": {"Inputs": [{"name", "shape"}]}})."""
    try:
        with open(meta_path, encoding="utf-8") as f:
            first = json.load(f)["Model"]["Inputs"][0]
        name, shape = first["name"], first["shape"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return {}
    fields: Dict[str, Any] = {"input_name": name} if isinstance(name, str) and name else {}
    if isinstance(shape, list) and len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape):
        if shape[1] in (1, 3):
            fields.update(layout="NCHW", height=shape[2], width=shape[3])
        elif shape[3] in (1, 3):
            fields.update(layout="NHWC", height=shape[1], width=shape[2])
    return fields
