"""scripts/demo end to end, on the small synthetic video: the real components through the local
nucleus, stopped once the viewer has drawn enough frames (a condition, not a clock), then its outputs."""

import json
import os
import subprocess

import cv2
import pytest
from ggvision.contracts import validate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "scripts", "demo")
VIDEO = os.path.join(ROOT, "scripts", "demo-assets", "sample-video.avi")
# The colour detector, whose detections on the synthetic video are known (the recipe's default, the
# pedestrian detector, finds nothing in coloured blocks).
COLOUR_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")
FRAMES = 15
GRID_COLUMNS, GRID_ROWS, TILE_WIDTH, CAPTION = 4, 3, 384, 24  # scripts/lib/demo/contact_sheet.py


def read_jsonl(path):
    with open(path) as stream:
        return [json.loads(line) for line in stream if line.strip()]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, device_runtime):
    """One run of scripts/demo, as a user runs it, with its folders in a temporary place and the
    session's installed runtime (so no second install)."""
    folder = tmp_path_factory.mktemp("demo")
    output = folder / "demo-output"
    command = [DEMO, "--video", VIDEO, "--model", COLOUR_MODEL, "--frames", str(FRAMES), "--seconds", "600",
               "--output", str(output), "--run-dir", str(folder / "run"),
               "--build-dir", str(folder / "greengrass-build"), "--runtime-work", device_runtime.work,
               "--camera-id", "demo-test"]
    # The upper bound is for a machine that never gets there; the run itself stops at FRAMES frames.
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert result.returncode == 0, f"scripts/demo failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return output, result.stdout


def drawn_frames(output):
    index = read_jsonl(os.path.join(output, "frames", "index.jsonl"))
    return [record for record in index if "file" in record]


def test_demo_leaves_every_output(demo_run):
    output, stdout = demo_run
    for name in ("annotated.mp4", "contact-sheet.png", "iot-core.jsonl", "detections.jsonl", "summary.json",
                 os.path.join("frames", "index.jsonl")):
        assert os.path.isfile(os.path.join(output, name)), name
    assert "demo summary" in stdout and "frames inferred" in stdout
    assert len(drawn_frames(output)) >= FRAMES


def test_the_mp4_holds_every_annotated_frame_at_the_source_size(demo_run):
    output, _ = demo_run
    drawn = drawn_frames(output)
    capture = cv2.VideoCapture(os.path.join(output, "annotated.mp4"))
    assert capture.isOpened()
    count, size = 0, None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        count += 1
        size = image.shape[1], image.shape[0]
    capture.release()
    source = cv2.VideoCapture(VIDEO)
    expected = int(source.get(cv2.CAP_PROP_FRAME_WIDTH)), int(source.get(cv2.CAP_PROP_FRAME_HEIGHT))
    source.release()
    assert count == len(drawn)
    assert size == expected


def test_the_contact_sheet_is_a_grid_of_annotated_frames(demo_run):
    output, _ = demo_run
    sheet = cv2.imread(os.path.join(output, "contact-sheet.png"), cv2.IMREAD_COLOR)
    assert sheet is not None
    first = drawn_frames(output)[0]
    tile_height = round(TILE_WIDTH * first["height"] / first["width"])
    assert sheet.shape == (GRID_ROWS * (tile_height + CAPTION), GRID_COLUMNS * TILE_WIDTH, 3)


def test_iot_core_messages_are_json_lines_of_counts(demo_run):
    output, _ = demo_run
    records = read_jsonl(os.path.join(output, "iot-core.jsonl"))
    assert records, "ObjectDetection sends its counts when it stops"
    for record in records:
        assert record["topic"].endswith("/counts")
        validate(record["payload"])


def test_every_annotated_frame_shows_the_detections_message_of_its_seq(demo_run):
    """The viewer's index says which boxes it drew on which seq; detections.jsonl is every detections
    message as another subscriber (the demo's monitor) received it from the nucleus."""
    output, _ = demo_run
    sent = {}
    for message in read_jsonl(os.path.join(output, "detections.jsonl")):
        validate(message)
        sent[(message["camera_id"], message["seq"])] = message
    drawn = drawn_frames(output)
    seqs = [(record["camera_id"], record["seq"]) for record in drawn]
    assert len(set(seqs)) == len(seqs), "one annotated frame per detections message"
    for record in drawn:
        message = sent.get((record["camera_id"], record["seq"]))
        assert message is not None, f"no detections message for seq {record['seq']}"
        assert record["prediction"] == message["prediction"], f"seq {record['seq']}"
        assert record["labels"] == {str(k): v for k, v in message["labels"].items()}
        image = cv2.imread(os.path.join(output, "frames", record["file"]), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == (record["height"], record["width"])
    assert any(record["prediction"] for record in drawn), "the demo model finds the coloured blocks"
