"""Two recorded runs (the recorder's JSON lines), frame by frame: the detections for every frame `seq`
both runs inferred must agree.

A detection `[class_id, score, xmin, ymin, xmax, ymax]` matches one of the other run with the same
class id when score and box differ by at most `tolerance` (JPEG decoding and resizing may differ a
little between platforms). A detection without a partner is tolerated only when its score lies within
`tolerance` of the score threshold: the other run may have dropped it by a hair.

    python3 scripts/lib/device_check/compare.py HOST.jsonl DEVICE.jsonl [--tolerance 1e-3]
"""

import argparse
import json
import statistics
import sys

DEFAULT_TOLERANCE = 1e-3


def load(path):
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass  # a line cut short when the run was stopped
    return records


def frames(records):
    """{(camera, seq): payload} of the inferred (not reused) detections."""
    found = {}
    for record in records:
        if record.get("event") != "detections":
            continue
        payload = record["payload"]
        if payload.get("reused"):
            continue
        found.setdefault((payload["camera_id"], payload["seq"]), payload)
    return found


def stats(records):
    """Frames inferred, frames/s over the run's span, inference ms (median, mean), runtimes seen,
    and the recorder's interpreter."""
    inferred = [r for r in records if r.get("event") == "detections" and not r["payload"].get("reused")]
    result = {"frames": len(inferred), "fps": None, "inference_ms_median": None,
              "inference_ms_mean": None, "runtimes": sorted({(r["payload"].get("model") or {})
                                                            .get("runtime", "?") for r in inferred}),
              "python": next((r.get("python") for r in records if r.get("event") == "started"), None),
              "machine": next((r.get("machine") for r in records if r.get("event") == "started"), None),
              "skipped": sum(r["payload"].get("skipped_frames", 0) for r in inferred)}
    if len(inferred) >= 2:
        span = inferred[-1]["time"] - inferred[0]["time"]
        if span > 0:
            result["fps"] = (len(inferred) - 1) / span
    times = [r["payload"]["inference_ms"] for r in inferred if "inference_ms" in r["payload"]]
    if times:
        result["inference_ms_median"] = statistics.median(times)
        result["inference_ms_mean"] = statistics.mean(times)
    return result


def _close(a, b, tolerance):
    return all(abs(float(x) - float(y)) <= tolerance for x, y in zip(a[1:], b[1:]))


def compare_predictions(a, b, tolerance, threshold):
    """([problems], borderline count) for two prediction lists of one frame."""
    left = sorted(a, key=lambda row: -row[1])
    right = list(b)
    unmatched_left = []
    for row in left:
        partner = next((other for other in right if int(other[0]) == int(row[0])
                        and _close(row, other, tolerance)), None)
        if partner is None:
            unmatched_left.append(row)
        else:
            right.remove(partner)
    problems, borderline = [], 0
    for side, rows in (("host", unmatched_left), ("device", right)):
        for row in rows:
            if threshold is not None and abs(float(row[1]) - threshold) <= tolerance:
                borderline += 1
            else:
                problems.append(f"only on the {side}: {_row(row)}")
    return problems, borderline


def compare(host_records, device_records, tolerance=DEFAULT_TOLERANCE, threshold=0.5, min_frames=10):
    """{"ok", "compared" (frames), "detections" (the device's, in those frames), "problems": [...],
    "borderline", "max_diff"}: the common frames agree, there are at least `min_frames` of them, and
    they hold detections."""
    host, device = frames(host_records), frames(device_records)
    common = sorted(set(host) & set(device))
    problems, borderline, max_diff = [], 0, 0.0
    detections = sum(len(device[key]["prediction"]) for key in common)
    for key in common:
        frame_problems, frame_borderline = compare_predictions(
            host[key]["prediction"], device[key]["prediction"], tolerance, threshold)
        borderline += frame_borderline
        problems += [f"camera {key[0]} frame {key[1]}: {p}" for p in frame_problems]
        max_diff = max(max_diff, _max_diff(host[key]["prediction"], device[key]["prediction"]))
    if len(common) < min_frames:
        problems.append(f"only {len(common)} frames inferred by both runs (at least {min_frames} needed): "
                        f"host {len(host)}, device {len(device)}")
    if common and not detections:
        problems.append(f"the {len(common)} frames both runs inferred hold no detections: nothing compared")
    return {"ok": not problems, "compared": len(common), "detections": detections, "problems": problems,
            "borderline": borderline,
            "max_diff": max_diff, "host_frames": len(host), "device_frames": len(device)}


def _max_diff(a, b):
    """The largest score/box difference between same-class rows paired by position after sorting."""
    key = lambda row: (int(row[0]), [round(float(v), 2) for v in row[2:]])  # noqa: E731
    pairs = zip(sorted(a, key=key), sorted(b, key=key))
    return max((abs(float(x) - float(y)) for p, q in pairs if int(p[0]) == int(q[0])
                for x, y in zip(p[1:], q[1:])), default=0.0)


def _row(row):
    return "class {} score {:.4f} box [{}]".format(int(row[0]), float(row[1]),
                                                  ", ".join(f"{float(v):.4f}" for v in row[2:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("host")
    parser.add_argument("device")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    result = compare(load(args.host), load(args.device), args.tolerance, args.threshold)
    for problem in result["problems"][:20]:
        print(problem)
    print(json.dumps({k: v for k, v in result.items() if k != "problems"}))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
