"""python -m demo [options]: see scripts/demo and demo.options."""

import sys

from demo.options import parse_args
from demo.runner import run_demo

if __name__ == "__main__":
    sys.exit(run_demo(parse_args()))
