"""The demo's viewer: a user-style component that subscribes to ggvision's messages.

It shows what your own component would do: subscribe to detections and camera status over IPC, read
the frame a detection belongs to from shared memory, and draw the boxes. Every second it prints one
line per camera and writes `<work>/latest-<camera>.jpg` with the boxes drawn.
"""

import os
import sys
import time

import cv2
from ggvision.frames import FrameReader, FrameUnavailable
from ggvision.ipc import IpcClient
from ggvision.lifecycle import StopSignal

COLOURS = [(0, 0, 255), (0, 200, 0), (255, 0, 0), (0, 200, 255), (255, 0, 255)]


def main() -> int:
    stop = StopSignal()
    ipc = IpcClient.connect()
    output = os.environ.get("GGVISION_DEMO_OUTPUT", os.getcwd())
    os.makedirs(output, exist_ok=True)
    frames = ipc.subscribe("ggvision/cameras/+/frames", max_pending=8)
    detections = ipc.subscribe("ggvision/detections/+", max_pending=64)
    reader = FrameReader(os.environ.get("GGVISION_RING_FOLDER", "/dev/shm/ggvision"))
    latest_frame = {}
    summary = {}
    ipc.update_state("RUNNING")
    next_print = time.monotonic() + 1.0
    while not stop.is_set():
        message = detections.get(timeout=0.2)
        while True:
            frame = frames.get_nowait()
            if frame is None:
                break
            latest_frame[frame.payload["camera_id"]] = frame.payload
        if message is not None and message.payload:
            result = message.payload
            camera = result["camera_id"]
            stats = summary.setdefault(camera, {"n": 0, "reused": 0})
            stats["n"] += 1
            stats["reused"] += 1 if result.get("reused") else 0
            stats["last"] = result
            event = latest_frame.get(camera)
            if event is not None and event["seq"] == result["seq"]:
                _draw(reader, event, result, os.path.join(output, f"latest-{camera}.jpg"))
        if time.monotonic() >= next_print:
            next_print += 1.0
            for camera, stats in sorted(summary.items()):
                last = stats["last"]
                objects = ", ".join("{} {:.2f}".format(last["labels"].get(str(row[0]), row[0]), row[1])
                                    for row in last["prediction"]) or "nothing"
                print("[viewer] {}: frame {} · {} · {:.1f} ms · {} results ({} reused)".format(
                    camera, last["seq"], objects, last["inference_ms"], stats["n"], stats["reused"]),
                    flush=True)
    frames.close()
    detections.close()
    ipc.close()
    return 0


def _draw(reader, event, result, path):
    try:
        image = reader.read(event, copy=True)
    except (FrameUnavailable, ValueError):
        return
    height, width = image.shape[:2]
    for class_id, score, xmin, ymin, xmax, ymax in result["prediction"]:
        colour = COLOURS[int(class_id) % len(COLOURS)]
        top_left = (int(xmin * width), int(ymin * height))
        cv2.rectangle(image, top_left, (int(xmax * width), int(ymax * height)), colour, 2)
        label = "{} {:.2f}".format(result["labels"].get(str(int(class_id)), class_id), score)
        cv2.putText(image, label, (top_left[0] + 2, top_left[1] + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    colour, 1, cv2.LINE_AA)
    cv2.imwrite(path + ".tmp.jpg", image)
    os.replace(path + ".tmp.jpg", path)


if __name__ == "__main__":
    sys.exit(main())
