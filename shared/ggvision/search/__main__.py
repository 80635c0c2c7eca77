"""`python -m ggvision.search`: see `ggvision.search.cli`."""

import sys

from .cli import main

sys.exit(main())
