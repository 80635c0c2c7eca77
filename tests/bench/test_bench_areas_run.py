"""Every benchmark area runs to the end in its quick mode and reports its headline figures.

Only that the figures exist and are positive is checked — never their size (performance claims are
`scripts/bench`'s, not the tests').
"""

import importlib
import math

import pytest

from scripts.benchmarks.__main__ import AREAS

HEADLINES = {
    "ipc": ["json_1kb_msgs_per_s", "json_1kb_latency_ms_p50", "binary_1mb_msgs_per_s"],
    "camera": ["jpeg_over_shm_cost_ratio", "shm_over_memcpy_cost_ratio"],
    "detection": ["end_to_end_over_raw_throughput", "added_latency_ms_p50", "motion_gate_cpu_fraction",
                  "colour_model_end_to_end_over_raw_throughput", "colour_model_added_latency_ms_p50"],
    "footprint": ["max_idle_rss_mib", "max_load_rss_mib", "camera_capture_idle_rss_mib",
                  "camera_capture_load_rss_mib", "object_detection_idle_rss_mib",
                  "object_detection_load_rss_mib", "object_detection_idle_rss_mib_colour_model"],
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("area", AREAS)
def test_benchmark_area_runs_and_reports_its_headlines(area):
    module = importlib.import_module("scripts.benchmarks." + area)
    result = module.run(quick=True)
    for name in HEADLINES[area]:
        value = result[name]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (name, value)
