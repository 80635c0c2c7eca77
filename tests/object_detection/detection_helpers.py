"""What the ObjectDetection integration tests share: colour-grid detector models in each output
layout (built with onnx.helper, run by the real ONNX Runtime), the README example image, the recipe's
defaults and access policy, and an in-process service on a real IPC connection.

The colour-grid detector is the DLR fixture's model (fixtures/dlr/README.md) rebuilt in ONNX: the
512×512 input is cut into a 4×4 grid of 128×128 cells, and for every cell and class c (0 red, 1 green,
2 blue) the score is sigmoid(12 · (m_c − mean of the other two channel means − 0.5)). Only the way the
outputs are laid out differs per layout (gluoncv, tensorflow, yolo).
"""

import contextlib
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import yaml
from ggvision.config import parse_config
from ggvision.contracts import validate
from ggvision.ipc import IpcClient, Subscription

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPE = os.path.join(ROOT, "recipes", "ggvision.ObjectDetection.yaml")
DEMO_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "dlr")
COMPONENT = "ggvision.ObjectDetection"
# The output layouts, and "tfod": tensorflow as the TF Object Detection API exports it (classes
# numbered from 1, outputs in another order), read with model.yaml's output.names and class_id_offset.
LAYOUTS = ("gluoncv", "tensorflow", "tfod", "yolo")
LABELS = ["red", "green", "blue"]

INPUT = 512
GRID = 4
CELL = INPUT // GRID
WAIT = 30.0  # generous: only a broken service ever waits this long

# The README example (fixtures/dlr/README.md): a grey 640×480 image with a pure red top-left 160×120
# block and a pure blue bottom-right one gives exactly these two detections above 0.5.
EXPECTED = [(0, [0.0, 0.0, 0.25, 0.25]), (2, [0.75, 0.75, 1.0, 1.0])]
EXPECTED_SCORE = 0.9975  # sigmoid(6)


def example_image(width: int = 640, height: int = 480) -> np.ndarray:
    """The README's example image, BGR (what cameras and cv2 hand over)."""
    image = np.full((height, width, 3), 128, np.uint8)
    block_w, block_h = width // 4, height // 4
    image[:block_h, :block_w] = (0, 0, 255)  # red
    image[height - block_h:, width - block_w:] = (255, 0, 0)  # blue
    return image


def assert_expected(prediction: List[List[float]], score: float = EXPECTED_SCORE) -> None:
    """The two README detections, best first, boxes to 1e-4 of the image."""
    assert len(prediction) == len(EXPECTED), prediction
    found = sorted(prediction, key=lambda row: row[0])
    for row, (class_id, box) in zip(found, EXPECTED):
        assert row[0] == class_id, prediction
        assert abs(row[1] - score) < 2e-3, prediction
        assert np.allclose(row[2:], box, atol=1e-4), prediction
    scores = [row[1] for row in prediction]
    assert scores == sorted(scores, reverse=True)


# -- models ---------------------------------------------------------------------------------------

def _cells() -> List[Tuple[int, int]]:
    return [(row, col) for row in range(GRID) for col in range(GRID)]


def build_colour_model(slow_matmuls: int = 0) -> Any:
    """The colour-grid detector's shared trunk: `data` [1,3,512,512] → `grid_scores` [1,3,4,4].

    `slow_matmuls` > 0 adds that many 1536×512×512 matrix products whose result is multiplied by 0
    and added to the scores: a genuinely slow model (same answers) for the queue tests.
    """
    from onnx import TensorProto, helper, numpy_helper

    weights = np.full((3, 3, 1, 1), -0.5, np.float32)
    for c in range(3):
        weights[c, c, 0, 0] = 1.0
    initializers = [
        numpy_helper.from_array(weights, "mix"),
        numpy_helper.from_array(np.full((3,), -0.5, np.float32), "bias"),
        numpy_helper.from_array(np.array(12.0, np.float32), "gain"),
    ]
    nodes = [
        helper.make_node("AveragePool", ["data"], ["means"], kernel_shape=[CELL, CELL], strides=[CELL, CELL]),
        helper.make_node("Conv", ["means", "mix", "bias"], ["margin"]),
        helper.make_node("Mul", ["margin", "gain"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["sigmoid_scores"]),
    ]
    if slow_matmuls:
        rng = np.random.default_rng(7)
        initializers += [
            numpy_helper.from_array(np.array([3 * INPUT, INPUT], np.int64), "flat_shape"),
            numpy_helper.from_array(rng.standard_normal((INPUT, INPUT)).astype(np.float32) * 0.01, "w"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ]
        nodes.append(helper.make_node("Reshape", ["data", "flat_shape"], ["slow_0"]))
        for i in range(slow_matmuls):
            nodes.append(helper.make_node("MatMul", [f"slow_{i}", "w"], [f"slow_{i + 1}"]))
        nodes += [
            helper.make_node("ReduceMean", [f"slow_{slow_matmuls}"], ["slow_mean"], keepdims=0),
            helper.make_node("Mul", ["slow_mean", "zero"], ["slow_nothing"]),
            helper.make_node("Add", ["sigmoid_scores", "slow_nothing"], ["grid_scores"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["sigmoid_scores"], ["grid_scores"]))
    data = helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, INPUT, INPUT])
    return nodes, initializers, data


def layout_graph(layout: str, slow_matmuls: int = 0) -> bytes:
    """The colour-grid detector with its outputs in `layout`, as serialized ONNX."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers, data = build_colour_model(slow_matmuls)
    count = GRID * GRID * 3
    # [1, 3, G, G] → [1, G, G, 3]: cell-major (row by row, left to right), class-minor
    nodes.append(helper.make_node("Transpose", ["grid_scores"], ["cell_scores"], perm=[0, 2, 3, 1]))
    cell_boxes = [[col * CELL, row * CELL, (col + 1) * CELL, (row + 1) * CELL] for row, col in _cells()]
    if layout == "gluoncv":
        # ids [1,N,1] (-1 where score ≤ 0.05), scores [1,N,1], bboxes [1,N,4] in input pixels
        ids = [float(c) for _ in _cells() for c in range(3)]
        boxes = [box for box in cell_boxes for _ in range(3)]
        initializers += [
            numpy_helper.from_array(np.array([1, count, 1], np.int64), "score_shape"),
            numpy_helper.from_array(np.array(ids, np.float32).reshape(1, count, 1), "class_ids"),
            numpy_helper.from_array(np.array(-1.0, np.float32), "padding_id"),
            numpy_helper.from_array(np.array(0.05, np.float32), "min_score"),
            numpy_helper.from_array(np.array(boxes, np.float32).reshape(1, count, 4), "cell_boxes"),
        ]
        nodes += [
            helper.make_node("Reshape", ["cell_scores", "score_shape"], ["scores"]),
            helper.make_node("Greater", ["scores", "min_score"], ["kept"]),
            helper.make_node("Where", ["kept", "class_ids", "padding_id"], ["ids"]),
            helper.make_node("Identity", ["cell_boxes"], ["bboxes"]),
        ]
        outputs = [("ids", [1, count, 1]), ("scores", [1, count, 1]), ("bboxes", [1, count, 4])]
    elif layout in ("tensorflow", "tfod"):
        # detection_boxes [1,N,4] normalised (ymin, xmin, ymax, xmax), detection_classes [1,N],
        # detection_scores [1,N], num_detections [1] — as a TF Object Detection API SSD exports them.
        boxes = [[y0 / INPUT, x0 / INPUT, y1 / INPUT, x1 / INPUT]
                 for x0, y0, x1, y1 in cell_boxes for _ in range(3)]
        first = 1 if layout == "tfod" else 0
        classes = [float(c + first) for _ in _cells() for c in range(3)]
        initializers += [
            numpy_helper.from_array(np.array([1, count], np.int64), "score_shape"),
            numpy_helper.from_array(np.array(boxes, np.float32).reshape(1, count, 4), "normalised_boxes"),
            numpy_helper.from_array(np.array(classes, np.float32).reshape(1, count), "classes"),
            numpy_helper.from_array(np.array([count], np.float32), "count"),
        ]
        nodes += [
            helper.make_node("Reshape", ["cell_scores", "score_shape"], ["detection_scores"]),
            helper.make_node("Identity", ["normalised_boxes"], ["detection_boxes"]),
            helper.make_node("Identity", ["classes"], ["detection_classes"]),
            helper.make_node("Identity", ["count"], ["num_detections"]),
        ]
        outputs = [("detection_boxes", [1, count, 4]), ("detection_classes", [1, count]),
                   ("detection_scores", [1, count]), ("num_detections", [1])]
        if layout == "tfod":
            outputs.reverse()
    elif layout == "yolo":
        # One raw row per cell: cx, cy, w, h (input pixels), objectness, then one score per class.
        cells = GRID * GRID
        centres = [[(x0 + x1) / 2.0, (y0 + y1) / 2.0, float(CELL), float(CELL)]
                   for x0, y0, x1, y1 in cell_boxes]
        initializers += [
            numpy_helper.from_array(np.array([1, cells, 3], np.int64), "class_shape"),
            numpy_helper.from_array(np.array(centres, np.float32).reshape(1, cells, 4), "centres"),
            numpy_helper.from_array(np.ones((1, cells, 1), np.float32), "objectness"),
        ]
        nodes += [
            helper.make_node("Reshape", ["cell_scores", "class_shape"], ["class_scores"]),
            helper.make_node("Concat", ["centres", "objectness", "class_scores"], ["raw"], axis=2),
        ]
        outputs = [("raw", [1, cells, 5 + 3])]
    else:
        raise ValueError(f"unknown layout {layout}")
    graph = helper.make_graph(
        nodes, f"colour_grid_{layout}", [data],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in outputs],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="ggvision-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


MODEL_YAML = """\
name: colour-grid-{layout}
version: "2"
input:
  name: data
  width: 512
  height: 512
  layout: NCHW
  channel_order: RGB
  resize: stretch
  scale: 0.00392156862745098
  mean: [0, 0, 0]
  std: [1, 1, 1]
output:
  layout: {output_layout}
"""
TFOD_OUTPUT = """  names: [detection_boxes, detection_classes, detection_scores, num_detections]
  class_id_offset: 1
"""


def write_model_yaml(folder: str, layout: str) -> None:
    with open(os.path.join(folder, "model.yaml"), "w") as f:
        if layout == "tfod":
            f.write(MODEL_YAML.format(layout=layout, output_layout="tensorflow") + TFOD_OUTPUT)
        else:
            f.write(MODEL_YAML.format(layout=layout, output_layout=layout))
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")


def model_folder(parent: str, layout: str, slow_matmuls: int = 0) -> str:
    """A model folder (model.onnx, model.yaml, labels.txt) for the colour-grid detector in `layout`."""
    folder = os.path.join(parent, f"{layout}-{slow_matmuls}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(layout_graph(layout, slow_matmuls))
    write_model_yaml(folder, layout)
    return folder


# -- the recipe -------------------------------------------------------------------------------------

def recipe_defaults() -> Dict[str, Any]:
    with open(RECIPE) as f:
        recipe = yaml.safe_load(f)
    return recipe["ComponentConfiguration"]["DefaultConfiguration"]


def recipe_policy() -> Dict[str, Any]:
    """The recipe's own accessControl: the in-process service gets exactly what the component gets."""
    return {"accessControl": recipe_defaults()["accessControl"]}


def settings(**overrides: Any) -> Any:
    """DetectionSettings from the recipe's defaults merged with `overrides` (configuration keys)."""
    from object_detection.settings import DetectionSettings

    config = {k: v for k, v in recipe_defaults().items() if k != "accessControl"}
    config.update(overrides)
    return parse_config(DetectionSettings, config)


@contextlib.contextmanager
def running_service(nucleus: Any, configuration: Any, policy: Optional[Dict[str, Any]] = None,
                    ) -> Iterator[Any]:
    """The ObjectDetection service in this process on its own real IPC connection, as the component."""
    from harness import connect
    from object_detection.service import DetectionService

    ipc = connect(nucleus, COMPONENT, policy or recipe_policy())
    service = DetectionService(configuration, ipc)
    try:
        service.start()
        yield service
    finally:
        service.stop()
        ipc.close()


# -- a camera made of a test IPC client and a real frame ring --------------------------------------

class RingCamera:
    """Writes frames into a real FrameRing and announces them as a camera component would."""

    def __init__(self, nucleus: Any, ring_folder: str, camera_id: str = "cam1", width: int = 640,
                 height: int = 480, slots: int = 4) -> None:
        from ggvision.frames import FrameRing
        from harness import connect, pubsub_policy

        self.camera_id = camera_id
        self.topic = f"ggvision/cameras/{camera_id}/frames"
        self.ipc = connect(nucleus, f"test.Camera.{camera_id}", pubsub_policy(publish=[self.topic]))
        self.ring = FrameRing.create(ring_folder, camera_id, width, height, slots=slots)
        self.seq = 0

    def write(self, image: np.ndarray) -> Dict[str, Any]:
        """Write `image` into the ring; the frame event that refers to it (not yet published)."""
        from ggvision.frames import frame_event

        captured_at = time.time()
        written = self.ring.write(image, captured_at)
        shm = _shm_reference(written)
        seq = _seq_of(written, self.seq)
        self.seq = seq + 1
        height, width = image.shape[:2]
        return frame_event(self.camera_id, seq, captured_at, width, height, "bgr24", shm=shm)

    def send(self, image: np.ndarray) -> Dict[str, Any]:
        event = self.write(image)
        self.ipc.publish_json(self.topic, event)
        return event

    def send_jpeg(self, image: np.ndarray, quality: int = 95) -> Dict[str, Any]:
        from ggvision.frames import frame_event
        from ggvision.frames.jpeg import encode_jpeg

        height, width = image.shape[:2]
        event = frame_event(self.camera_id, self.seq, time.time(), width, height, "bgr24",
                            jpeg_data=encode_jpeg(image, quality))
        self.seq += 1
        self.ipc.publish_json(self.topic, event)
        return event

    def close(self) -> None:
        self.ipc.close()
        self.ring.close()


def _shm_reference(written: Any) -> Dict[str, Any]:
    # The ring returns either a dict ({"path", "slot", "seq"}) or a WrittenFrame(seq, slot, path).
    if isinstance(written, dict):
        return {"path": written["path"], "slot": written["slot"]}
    return {"path": written.path, "slot": written.slot}


def _seq_of(written: Any, fallback: int) -> int:
    seq = written.get("seq") if isinstance(written, dict) else getattr(written, "seq", None)
    return fallback if seq is None else int(seq)


def observer(nucleus: Any, topics: Sequence[str], name: str = "test.Observer") -> Tuple[IpcClient, List[Any]]:
    """A test component subscribed to `topics`; returns its client and one Subscription per topic."""
    from harness import connect, pubsub_policy

    ipc = connect(nucleus, name, pubsub_policy(subscribe=list(topics)))
    return ipc, [ipc.subscribe(topic, 1024) for topic in topics]


def next_valid(subscription: Subscription, schema: str, timeout: float = WAIT,
               where: Optional[Any] = None) -> Dict[str, Any]:
    """The next message on `subscription` (matching `where`), checked against `schema`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        message = subscription.get(max(0.0, remaining))
        assert message is not None, f"nothing on {subscription.topic} within {timeout} s"
        assert message.payload is not None, "a binary message where JSON was expected"
        validate(message.payload, schema)
        if where is None or where(message.payload):
            return message.payload


# -- the component as a real process ----------------------------------------------------------------

BUILD = os.path.join(ROOT, "scripts", "build")


def build_components(output: str, runtime: Any, components: Sequence[str] = (COMPONENT,)) -> Dict[str, Any]:
    """scripts/build for `components` into `output`, for this machine's platform; the recipe and artifact
    folders the launcher takes, with the device runtime (tests/device_runtime.py) they run in."""
    from local_nucleus.device import build_for_this_machine

    return runtime.with_components(build_for_this_machine(output, components))


@contextlib.contextmanager
def launched(nucleus: Any, built: Dict[str, str], run_dir: str, configuration: Dict[str, Dict[str, Any]],
             components: Sequence[str] = (COMPONENT,)) -> Iterator[Any]:
    """Components from their built recipes as real processes (the local nucleus launcher), with
    `configuration` merged over each one's DefaultConfiguration: {component: {key: value}}."""
    import io

    from local_nucleus.launcher import Launcher

    overrides = {name: {"MERGE": values} for name, values in configuration.items()}
    output = io.StringIO()
    launcher = Launcher(nucleus, built["recipes"], built["artifacts"], run_dir, config_overrides=overrides,
                        shared_work=built.get("shared_work"),
                        components=list(components), restart_delay=0.2, stop_timeout=10.0, output=output)
    launcher.start()
    try:
        yield launcher
    finally:
        launcher.stop()


def wait_for_history(launcher: Any, name: str, state: str, timeout: float = 60.0) -> List[str]:
    """The component's state history once it has been in `state` (the nucleus's states are transient)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = launcher.state_history(name)
        if state in history:
            return history
        time.sleep(0.05)
    raise AssertionError(f"{name} never was {state}: {launcher.state_history(name)}; "
                         f"log: {launcher.log_lines(name)[-20:]}")


def app_client(nucleus: Any, client_name: str = "app") -> Tuple[IpcClient, Any]:
    """A test application allowed to ask the detector (its IPC client and an InferenceClient)."""
    from ggvision.inference import InferenceClient
    from harness import connect, pubsub_policy

    ipc = connect(nucleus, f"test.App.{client_name}", pubsub_policy(
        publish=["ggvision/inference/detector/request"],
        subscribe=[f"ggvision/inference/detector/reply/{client_name}", "ggvision/inference/detector/errors"]))
    return ipc, InferenceClient("detector", ipc=ipc, client_name=client_name)
