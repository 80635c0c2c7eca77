"""Turn off DLR's phone-home before the first `import dlr`.

On its first import, DLR (the `dlr` package) sends a "runtime loaded" record, and on every model load
a "model loaded" record, to a remote endpoint, unless `<dlr package>/counter/ccm_config.json` says
`{"enable_phone_home": false}`. It reads that file while being imported, so the file has to exist
before then: the package is located with `importlib.util.find_spec`, which does not import it. DLR
offers no environment variable or other switch for this (checked up to 1.6); the file is the only
opt-out.

When the DLR installation is not writable (a device where the component user does not own
site-packages) the file cannot be written here. DLR 1.6 itself writes that same file before it
enables the feature, so for the same user it stays off; the log line says how to make it explicit.
"""

import importlib.util
import json
import os
import sys
import tempfile
from typing import Optional

from ..log import get_logger

_log = get_logger("ggvision.runtimes.dlr")

CONFIG_NAME = "ccm_config.json"
OPT_OUT_KEY = "enable_phone_home"


def dlr_package_dir() -> Optional[str]:
    """The folder of the installed `dlr` package, found without importing it; None when not installed."""
    try:
        spec = importlib.util.find_spec("dlr")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def opt_out_path(package_dir: str) -> str:
    return os.path.join(package_dir, "counter", CONFIG_NAME)


def disable_phone_home() -> Optional[str]:
    """Write DLR's opt-out file unless it already says "off"; returns its path.

    None: DLR is not installed, or its version has no phone-home (no `counter` module). Never raises: a
    DLR installation we cannot write to is logged, not fatal.
    """
    package_dir = dlr_package_dir()
    if package_dir is None or not os.path.isdir(os.path.join(package_dir, "counter")):
        return None
    path = opt_out_path(package_dir)
    config = _read_config(path)
    if config.get(OPT_OUT_KEY) is False:
        return path
    if "dlr" in sys.modules:
        _log.warning("dlr was imported before its phone-home was turned off; this process may already "
                     "have reported to DLR's endpoint")
    config[OPT_OUT_KEY] = False
    try:
        _write_atomically(path, config)
    except OSError as error:
        _log.warning("cannot write DLR's phone-home opt-out %s (%s). DLR 1.6 writes that same file before "
                     "it turns its phone-home on, so it stays off for this user; to make the opt-out "
                     "explicit, run scripts/lib/disable_dlr_phone_home.py as the owner of the DLR "
                     "installation", path, error.strerror or error)
        return path
    _log.debug("DLR phone-home turned off in %s", path)
    return path


def _read_config(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_atomically(path: str, config: dict) -> None:
    # A half-written file would read as "no config", which DLR takes as "enabled".
    folder = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=".ccm_config.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(config, f)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
