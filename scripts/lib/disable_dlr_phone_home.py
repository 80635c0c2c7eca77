"""Write DLR's opt-out file so that no import of `dlr` in this environment reports to a remote endpoint.

DLR sends a "runtime loaded" record on its first import unless `dlr/counter/ccm_config.json` says
`{"enable_phone_home": false}`. The file must exist before `import dlr`, so it is located without
importing the package.
"""

import importlib.util
import json
import os
import sys


def main() -> int:
    spec = importlib.util.find_spec("dlr")
    if spec is None or not spec.submodule_search_locations:
        return 0
    counter_dir = os.path.join(list(spec.submodule_search_locations)[0], "counter")
    os.makedirs(counter_dir, exist_ok=True)
    with open(os.path.join(counter_dir, "ccm_config.json"), "w") as f:
        json.dump({"enable_phone_home": False}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
