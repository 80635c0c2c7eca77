"""Result files: bench-results/<area>.json with headline numbers at the top level and the machine."""

import json
import os
import platform
import time
from typing import Any, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS_DIR = os.path.join(ROOT, "bench-results")


def machine() -> Dict[str, Any]:
    info: Dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["memory_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    return info


def write_result(area: str, result: Dict[str, Any], seconds: float) -> str:
    os.makedirs(RESULTS_DIR, exist_ok=True)
    document = dict(result)
    document["area"] = area
    document["machine"] = machine()
    document["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    document["duration_s"] = round(seconds, 2)
    path = os.path.join(RESULTS_DIR, area + ".json")
    with open(path, "w") as f:
        json.dump(document, f, indent=2, sort_keys=True)
        f.write("\n")
    return os.path.relpath(path, ROOT)


def percentiles(samples: List[float], points=(50, 90, 99)) -> Dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}
    result = {}
    for point in points:
        index = min(len(ordered) - 1, int(round(point / 100.0 * (len(ordered) - 1))))
        result[f"p{point}"] = round(ordered[index], 4)
    return result
