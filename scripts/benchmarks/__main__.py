"""Run benchmark areas and write bench-results/<area>.json for each."""

import argparse
import importlib
import sys
import time

from .results import write_result

AREAS = ["ipc", "camera", "detection", "footprint"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("areas", nargs="*", help="areas to run (default: all): " + ", ".join(AREAS))
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    args = parser.parse_args(argv)
    unknown = [a for a in args.areas if a not in AREAS]
    if unknown:
        parser.error("unknown area(s): {} (known: {})".format(", ".join(unknown), ", ".join(AREAS)))
    failed = []
    for area in args.areas or AREAS:
        try:
            module = importlib.import_module("scripts.benchmarks." + area)
        except ModuleNotFoundError as error:
            if error.name != "scripts.benchmarks." + area:
                raise
            print(f"bench: area {area} is not implemented yet")
            continue
        print(f"bench: {area} …", flush=True)
        started = time.time()
        try:
            result = module.run(quick=args.quick)
        except Exception as error:  # report and go on with the other areas
            print(f"bench: {area} failed: {error}", file=sys.stderr)
            failed.append(area)
            continue
        path = write_result(area, result, time.time() - started)
        headline = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        print(f"bench: {area} → {path}: {headline}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
