"""Shared test set-up: make each component's own package importable, as its artifact does."""

import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for component_dir in sorted(glob.glob(os.path.join(ROOT, "components", "*"))):
    if os.path.isdir(component_dir) and component_dir not in sys.path:
        sys.path.append(component_dir)
