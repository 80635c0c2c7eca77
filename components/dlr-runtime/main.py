"""ggvision.DLRRuntime has no process of its own: its Install step (install.py) makes the environment
the other components run in. This file exists so that the GDK project has the usual entry point; it
checks an installed environment when run with that environment's python."""

import sys

if __name__ == "__main__":
    import cv2
    import dlr
    import ggvision
    import numpy

    print(f"ggvision {getattr(ggvision, '__version__', '?')}, numpy {numpy.__version__}, "
          f"OpenCV {cv2.__version__}, DLR {getattr(dlr, '__version__', '?')}, "
          f"Python {sys.version.split()[0]}")
