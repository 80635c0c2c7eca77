"""Counts aggregated per window and camera; the motion gate's change test."""

import numpy as np
from ggvision.contracts import validate
from object_detection.counts import CountsWindow
from object_detection.motion import MotionGate

MODEL = {"name": "m", "version": "1"}


def test_counts_report_max_and_mean_per_class_over_frames_seen():
    window = CountsWindow(60, now=100.0)
    window.add("front", [0, 0, 2])
    window.add("front", [0])
    window.add("front", [])
    window.add("back", [2])
    assert not window.due(now=150.0) and window.due(now=160.0)
    messages = window.flush("thing-1", {0: "person", 2: "car"}, MODEL, now=160.0)
    for message in messages:
        validate(message)
    back, front = messages
    assert front["frames"] == 3 and front["window"] == {"start": 100.0, "end": 160.0}
    assert front["classes"]["person"] == {"class_id": 0, "max": 2, "mean": 1.0}
    assert front["classes"]["car"] == {"class_id": 2, "max": 1, "mean": round(1 / 3, 4)}
    assert back["classes"] == {"car": {"class_id": 2, "max": 1, "mean": 1.0}}


def test_counts_window_restarts_after_flush():
    window = CountsWindow(10, now=0.0)
    window.add("front", [1])
    window.flush("t", {}, MODEL, now=10.0)
    assert window.start == 10.0
    assert window.flush("t", {}, MODEL, now=20.0) == []


def scene(noise=0, block=None):
    rng = np.random.default_rng(1)
    image = np.full((720, 1280, 3), 90, np.uint8)
    if noise:
        jitter = rng.integers(-noise, noise + 1, image.shape)
        image = np.clip(image.astype(int) + jitter, 0, 255).astype(np.uint8)
    if block:
        x, y = block
        image[y:y + 200, x:x + 200] = (0, 0, 255)
    return image


def test_motion_gate_skips_an_unchanged_noisy_scene_and_wakes_on_change():
    gate = MotionGate(threshold=0.01, max_skip_s=30)
    assert gate.should_infer("cam", scene(), now=0.0)
    assert not gate.should_infer("cam", scene(noise=6), now=1.0)
    assert gate.should_infer("cam", scene(block=(100, 100)), now=2.0)
    assert not gate.should_infer("cam", scene(block=(100, 100)), now=3.0)
    assert gate.should_infer("cam", scene(block=(600, 300)), now=4.0)


def test_motion_gate_reinfers_a_static_scene_after_max_skip():
    gate = MotionGate(threshold=0.01, max_skip_s=5)
    assert gate.should_infer("cam", scene(), now=0.0)
    assert not gate.should_infer("cam", scene(), now=4.0)
    assert gate.should_infer("cam", scene(), now=5.5)


def test_motion_gate_tracks_cameras_separately():
    gate = MotionGate(threshold=0.01, max_skip_s=30)
    assert gate.should_infer("a", scene(), now=0.0)
    assert gate.should_infer("b", scene(block=(0, 0)), now=0.0)
    assert not gate.should_infer("a", scene(), now=1.0)
