"""scripts/device-check's recorder: every detections message and detector status it receives, one JSON
object a line, flushed at once (the check reads the file while the components run).

    {"event": "started", "time": ..., "python": sys.executable, "machine": "aarch64"}
    {"event": "detections", "time": <received, epoch s>, "topic": ..., "payload": {...}}
    {"event": "status", "time": ..., "topic": ..., "payload": {...}}

Runs on the device's Python (3.8 or later), in the ggvision.DLRRuntime environment.
"""

import json
import os
import platform
import sys
import time

from ggvision.ipc import IpcClient
from ggvision.lifecycle import StopSignal


def main():
    stop = StopSignal()
    output = os.environ.get("GGVISION_RECORDER_OUTPUT") or os.path.join(
        os.environ.get("GGVISION_RECORDER_WORK") or os.getcwd(), "detections.jsonl")
    ipc = IpcClient.connect()
    detections = ipc.subscribe("ggvision/detections/+", max_pending=4096)
    status = ipc.subscribe("ggvision/inference/+/status", max_pending=64)
    with open(output, "a") as out:
        def write(record):
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()

        write({"event": "started", "time": time.time(), "python": sys.executable,
               "machine": platform.machine(), "version": list(sys.version_info[:3])})
        ipc.update_state("RUNNING")
        while not stop.is_set():
            message = detections.get(timeout=0.2)
            if message is not None and message.payload is not None:
                write({"event": "detections", "time": message.received_at, "topic": message.topic,
                       "payload": message.payload})
            while True:
                update = status.get_nowait()
                if update is None:
                    break
                if update.payload is not None:
                    write({"event": "status", "time": update.received_at, "topic": update.topic,
                           "payload": update.payload})
        write({"event": "stopped", "time": time.time(), "dropped": detections.dropped})
    detections.close()
    status.close()
    ipc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
