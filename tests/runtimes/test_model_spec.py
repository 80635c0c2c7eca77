"""ModelSpec from a model folder: defaults for a bare Neo artifact, model.yaml, labels, clear errors."""

import json
import os

import pytest
from ggvision.models import ModelSpec, load_model_spec, parse_model_yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")


def folder_with(tmp_path, name="model", model_yaml=None, labels_txt=None):
    folder = tmp_path / name
    folder.mkdir()
    for file_name, text in (("model.yaml", model_yaml), ("labels.txt", labels_txt)):
        if text is not None:
            (folder / file_name).write_text(text, encoding="utf-8")
    return str(folder)


def test_defaults_fit_a_gluoncv_neo_artifact(tmp_path):
    (tmp_path / "ssd_512").mkdir()
    (tmp_path / "ssd_512" / "compiled.so").write_bytes(b"")
    spec = load_model_spec(str(tmp_path / "ssd_512"))
    assert spec == ModelSpec(name="ssd_512", model_dir=str(tmp_path / "ssd_512"))
    assert (spec.width, spec.height, spec.layout, spec.channel_order, spec.resize) == (
        512, 512, "NCHW", "RGB", "stretch")
    assert spec.scale == 1.0
    assert spec.mean == [123.675, 116.28, 103.53] and spec.std == [58.395, 57.12, 57.375]
    assert (spec.dtype, spec.output_layout, spec.output_names, spec.input_name) == (
        "float32", "gluoncv", None, None)
    assert (spec.labels, spec.nms_iou, spec.objectness, spec.version) == ({}, 0.45, None, "unknown")


def test_neo_compiled_meta_gives_input_name_and_size(tmp_path):
    folder = tmp_path / "yolo"
    folder.mkdir()
    meta = {"Model": {"Inputs": [{"name": "data", "shape": [1, 3, 416, 320], "dtype": "float32"}]}}
    (folder / "compiled.meta").write_text(json.dumps(meta))
    spec = load_model_spec(str(folder))
    assert (spec.input_name, spec.height, spec.width, spec.layout) == ("data", 416, 320, "NCHW")
    (folder / "model.yaml").write_text("input: {width: 608, height: 608}\n")
    assert (load_model_spec(str(folder)).width, load_model_spec(str(folder)).height) == (608, 608)


def test_the_demo_model_folder():
    spec = load_model_spec(DEMO_MODEL)
    assert (spec.name, spec.version, spec.input_name) == ("demo-colour-detector", "1", "data")
    assert spec.scale == pytest.approx(1 / 255)
    assert (spec.mean, spec.std) == ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert spec.labels == {0: "red", 1: "green", 2: "blue"}
    assert spec.output_layout == "gluoncv"


def test_every_key(tmp_path):
    folder = folder_with(tmp_path, model_yaml="""
name: people
version: 7
input:
  name: image_tensor
  width: 300
  height: 200
  layout: nhwc
  channel_order: bgr
  resize: Letterbox
  scale: 0.5
  mean: [1, 2, 3]
  std: [4, 5, 6.5]
  dtype: uint8
output:
  layout: yolo
  names: [raw]
  nms_iou: 0.6
  objectness: false
labels: [person, "", null, car]
""")
    spec = load_model_spec(folder)
    assert spec == ModelSpec(name="people", version="7", input_name="image_tensor", width=300, height=200,
                             layout="NHWC", channel_order="BGR", resize="letterbox", scale=0.5,
                             mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.5], dtype="uint8", output_layout="yolo",
                             output_names=["raw"], labels={0: "person", 3: "car"}, nms_iou=0.6,
                             objectness=False, model_dir=folder)


def test_labels_txt_line_index_is_the_class_id(tmp_path):
    folder = folder_with(tmp_path, labels_txt="\ufeffbackground\n  person \n\ncar\n\n\n")
    assert load_model_spec(folder).labels == {0: "background", 1: "person", 3: "car"}


def test_labels_mapping_in_model_yaml(tmp_path):
    folder = folder_with(tmp_path, model_yaml="labels: {1: person, 3: car}\n")
    assert load_model_spec(folder).labels == {1: "person", 3: "car"}


def test_labels_given_twice_is_an_error(tmp_path):
    folder = folder_with(tmp_path, model_yaml="labels: [a]\n", labels_txt="a\n")
    with pytest.raises(ValueError, match=r"labels: the labels are given twice.*labels\.txt"):
        load_model_spec(folder)


def test_empty_model_yaml_means_defaults(tmp_path):
    folder = folder_with(tmp_path, name="bare", model_yaml="# nothing yet\n")
    assert load_model_spec(folder) == ModelSpec(name="bare", model_dir=folder)


def test_a_model_file_reads_its_folder(tmp_path):
    folder = folder_with(tmp_path, model_yaml="version: '2'\n", labels_txt="cat\n")
    (tmp_path / "model" / "detector.onnx").write_bytes(b"")
    spec = load_model_spec(os.path.join(folder, "detector.onnx"))
    assert (spec.name, spec.version, spec.labels, spec.model_dir) == ("detector", "2", {0: "cat"}, folder)


def test_missing_folder_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model_spec(str(tmp_path / "absent"))


@pytest.mark.parametrize("text, expected", [
    ("inptu: {}", ["unknown key 'inptu'", "allowed: name, version, input, output, labels"]),
    ("input: {size: 3}", ["unknown key 'input.size'", "allowed in input: name, width, height"]),
    ("output: {threshold: 0.5}",
     ["unknown key 'output.threshold'", "layout, names, nms_iou, objectness, class_id_offset"]),
    ("- a\n- b", ["the file: ['a', 'b'] is not allowed", "a mapping"]),
    ("name: ''", ["name: '' is not allowed", "a non-empty string"]),
    ("name: [x]", ["name: ['x'] is not allowed"]),
    ("version: true", ["version: True is not allowed"]),
    ("input: [1]", ["input: [1] is not allowed", "a mapping with the keys"]),
    ("input: {width: 0}", ["input.width: 0 is not allowed", "a whole number from 1 to 8192"]),
    ("input: {height: 51.2}", ["input.height: 51.2 is not allowed"]),
    ("input: {width: '512'}", ["input.width: '512' is not allowed"]),
    ("input: {width: true}", ["input.width: True is not allowed"]),
    ("input: {layout: NCWH}", ["input.layout: 'NCWH' is not allowed", "allowed: NCHW, NHWC"]),
    ("input: {channel_order: RGBA}", ["input.channel_order: 'RGBA' is not allowed", "allowed: RGB, BGR"]),
    ("input: {resize: crop}", ["input.resize: 'crop' is not allowed", "allowed: stretch, letterbox"]),
    ("input: {scale: 0}", ["input.scale: 0 is not allowed", "a number above 0"]),
    ("input: {scale: .nan}", ["input.scale: nan is not allowed"]),
    ("input: {mean: [1, 2]}", ["input.mean: [1, 2] is not allowed", "a list of 3 numbers"]),
    ("input: {mean: [1, 2, x]}", ["input.mean: 'x' is not allowed"]),
    ("input: {std: [1, 0, 1]}", ["input.std: 0 is not allowed", "all above 0"]),
    ("input: {dtype: int8}", ["input.dtype: 'int8' is not allowed", "allowed: float32, uint8"]),
    ("output: {layout: ssd}", ["output.layout: 'ssd' is not allowed", "allowed: gluoncv, tensorflow, yolo"]),
    ("output: {names: []}", ["output.names: [] is not allowed", "a list of distinct output names"]),
    ("output: {names: [a, a]}", ["output.names: ['a', 'a'] is not allowed"]),
    ("output: {names: boxes}", ["output.names: 'boxes' is not allowed"]),
    ("output: {nms_iou: 1.5}", ["output.nms_iou: 1.5 is not allowed", "a number above 0, at most 1"]),
    ("output: {objectness: 'yes'}", ["output.objectness: 'yes' is not allowed", "true or false"]),
    ("output: {class_id_offset: -1}", ["output.class_id_offset: -1 is not allowed"]),
    ("labels: person", ["labels: 'person' is not allowed", "a list of class names"]),
    ("labels: {-1: person}", ["labels: -1 is not allowed", "class ids that are whole numbers from 0"]),
    ("labels: [person, [x]]", ["labels[1]: ['x'] is not allowed"]),
    ("input: {width: 512\n", ["not valid YAML at line", "column"]),
])
def test_invalid_model_yaml_names_key_value_and_what_is_allowed(tmp_path, text, expected):
    folder = folder_with(tmp_path, model_yaml=text + "\n")
    with pytest.raises(ValueError) as raised:
        load_model_spec(folder)
    message = str(raised.value)
    assert message.startswith(os.path.join(folder, "model.yaml") + ":"), message
    for part in expected:
        assert part in message, message


def test_numbers_are_accepted_as_names_and_versions(tmp_path):
    spec = load_model_spec(folder_with(tmp_path, model_yaml="name: 3\nversion: 1.5\ninput: {name: 0}\n"))
    assert (spec.name, spec.version, spec.input_name) == ("3", "1.5", "0")


def test_yaml_is_parsed_safely(tmp_path):
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_model_yaml("name: !!python/object/apply:os.system ['true']\n")


def test_model_yaml_that_is_not_utf8(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_model_spec(str(folder))
    (folder / "model.yaml").unlink()
    (folder / "labels.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(ValueError, match=r"labels\.txt: not UTF-8"):
        load_model_spec(str(folder))


def test_class_id_offset_is_read_from_model_yaml(tmp_path):
    (tmp_path / "model.yaml").write_text("output: {layout: tensorflow, class_id_offset: 1}\n")
    spec = load_model_spec(str(tmp_path))
    assert (spec.output_layout, spec.class_id_offset) == ("tensorflow", 1)
