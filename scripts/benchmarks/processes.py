"""Finding a component's own process among the launcher's (the benchmarks read its /proc entries)."""

import os


def component_pid(run_dir: str, component: str) -> int:
    """A component's Python process: the child of the launcher's `sh -c` whose command line runs the
    component's `main.py` from our run folder."""
    script = os.path.join(component, "main.py")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                arguments = [a.decode(errors="replace") for a in f.read().split(b"\0")]
        except OSError:
            continue
        if arguments[0].endswith("sh"):
            continue
        if any(a.endswith(script) and run_dir in a for a in arguments):
            return int(entry)
    raise RuntimeError(f"the {component} process was not found")
