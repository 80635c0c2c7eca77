"""Write DLR's opt-out file so that no import of `dlr` in this environment reports to a remote endpoint.

The logic lives in the library (`ggvision.runtimes.dlr_telemetry`), which every DLR model load runs as
well; this script applies it to an environment once, e.g. from `scripts/setup` or an install step
run by the owner of the DLR installation.
"""

import logging
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))

from ggvision.runtimes.dlr_telemetry import disable_phone_home  # noqa: E402


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    path = disable_phone_home()
    if path is not None:
        print(f"DLR phone-home off: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
