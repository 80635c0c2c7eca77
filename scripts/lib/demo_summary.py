"""After the demo: what reached "IoT Core" and where the viewer's annotated snapshots are."""

import glob
import json
import os
import sys


def main(run_dir: str) -> int:
    log = os.path.join(run_dir, "iot-core.jsonl")
    records = []
    if os.path.exists(log):
        with open(log) as f:
            records = [json.loads(line) for line in f if line.strip()]
    print()
    print("demo summary")
    print(f"  IoT Core messages recorded: {len(records)} ({log})")
    for record in records[-3:]:
        payload = record.get("payload") or {}
        classes = ", ".join("{} max {} mean {}".format(name, c["max"], c["mean"])
                            for name, c in sorted(payload.get("classes", {}).items()))
        print("    {} {} frames: {}".format(record["topic"], payload.get("frames"), classes or "-"))
    snapshots = sorted(glob.glob(os.path.join(run_dir, "work", "ggvision.demo.Viewer", "latest-*.jpg")))
    for snapshot in snapshots:
        print(f"  annotated frame: {snapshot}")
    if not snapshots:
        print("  no annotated frame was written (see the log lines above)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
