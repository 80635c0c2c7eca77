"""DLR's phone-home stays off: the opt-out file is written before `dlr` is first imported, and loading and
running a model makes no network connection.

Each case runs in a fresh process on a COPY of the installed dlr package (without its opt-out file), so
that the real installation is untouched and `dlr` is imported for the first time. A sitecustomize in
that process records (and blocks) every connection attempt, through an audit hook on socket.connect /
socket.getaddrinfo / urllib.Request and wrappers of socket.socket.connect, socket.create_connection and
urllib.request.urlopen, and records every write to the opt-out file with whether `dlr` was imported yet.
"""

import importlib.util
import json
import os
import shutil

import pytest
from runtime_subprocess import FIXTURES, SHARED, run_python

pytestmark = [
    pytest.mark.dlr,
    pytest.mark.skipif(not os.path.isdir(FIXTURES), reason="no ../shared/fixtures/dlr"),
    pytest.mark.skipif(importlib.util.find_spec("dlr") is None, reason="DLR is not installed"),
]
MODEL = os.path.join(FIXTURES, "colour_detector_512_dlr")

SITECUSTOMIZE = r'''
import atexit, json, os, socket, sys, urllib.request

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.json")
EVENTS = {"network": [], "opt_out_writes": []}


def _network(detail):
    EVENTS["network"].append(detail)
    raise PermissionError("network blocked by the test: " + detail)


def _is_opt_out(path):
    return isinstance(path, str) and os.path.basename(path).startswith((".ccm_config", "ccm_config"))


def _audit(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
        _network(event + " " + repr(args[1] if event == "socket.connect" else args[0]))
    elif event == "open" and _is_opt_out(args[0]):
        mode, flags = args[1], args[2]
        writing = any(c in (mode or "") for c in "wax+") or bool(flags & (os.O_WRONLY | os.O_RDWR))
        if writing:
            EVENTS["opt_out_writes"].append({"path": args[0], "dlr_imported": "dlr" in sys.modules})
    elif event == "os.rename" and _is_opt_out(str(args[1])):
        EVENTS["opt_out_writes"].append({"path": str(args[1]), "dlr_imported": "dlr" in sys.modules})


sys.addaudithook(_audit)

socket.socket.connect = lambda self, address: _network("socket.socket.connect " + repr(address))
socket.create_connection = lambda address, *a, **k: _network("socket.create_connection " + repr(address))
urllib.request.urlopen = lambda url, *a, **k: _network("urllib.request.urlopen " + repr(url))


@atexit.register
def _report():
    with open(REPORT, "w") as f:
        json.dump(EVENTS, f)
'''

LOAD_WITH_GGVISION = r'''
import io, json, logging, sys
import numpy as np
log = io.StringIO()
logging.basicConfig(stream=log, level=logging.INFO)
from ggvision.runtimes import load_runtime
runtime = load_runtime(MODEL)
outputs = runtime.run({"data": np.zeros((1, 3, 512, 512), np.float32)})
import dlr
print("RESULT:" + json.dumps({"dlr_file": dlr.__file__, "outputs": len(outputs), "log": log.getvalue()}))
'''

LOAD_WITH_DLR_ALONE = r'''
import json
import numpy as np
import dlr
model = dlr.DLRModel(MODEL, "cpu", 0)
model.run({"data": np.zeros((1, 3, 512, 512), np.float32)})
print("RESULT:" + json.dumps({"dlr_file": dlr.__file__}))
'''


def _sandbox(tmp_path):
    """A site folder with a copy of the installed dlr package (no opt-out file) and the recorder."""
    site_dir = tmp_path / "site"
    installed = os.path.dirname(importlib.util.find_spec("dlr").origin)
    shutil.copytree(installed, str(site_dir / "dlr"), ignore=shutil.ignore_patterns("__pycache__"))
    opt_out = site_dir / "dlr" / "counter" / "ccm_config.json"
    if opt_out.exists():
        opt_out.unlink()
    (site_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return site_dir, opt_out


def _run(site_dir, snippet):
    result = run_python(f"MODEL = {MODEL!r}\n" + snippet, [str(site_dir), SHARED])
    with open(str(site_dir / "report.json")) as f:
        return result, json.load(f)


def test_opt_out_is_written_before_dlr_is_imported_and_nothing_connects(tmp_path):
    site_dir, opt_out = _sandbox(tmp_path)
    result, report = _run(site_dir, LOAD_WITH_GGVISION)
    assert result["dlr_file"].startswith(str(site_dir)), result  # the copy, imported fresh
    assert result["outputs"] == 3
    assert json.loads(opt_out.read_text()) == {"enable_phone_home": False}
    assert report["opt_out_writes"], report
    assert all(not write["dlr_imported"] for write in report["opt_out_writes"]), report
    assert report["network"] == []


def test_an_opt_out_that_cannot_be_written_is_logged_and_still_nothing_connects(tmp_path):
    # A directory where the file should be: not writable for any user, root included.
    site_dir, opt_out = _sandbox(tmp_path)
    opt_out.mkdir()
    result, report = _run(site_dir, LOAD_WITH_GGVISION)
    assert "cannot write DLR's phone-home opt-out" in result["log"], result
    assert "disable_dlr_phone_home.py" in result["log"]
    assert result["outputs"] == 3
    assert report["network"] == []


def test_the_recorder_does_see_dlrs_phone_home_without_the_opt_out(tmp_path):
    # The control: the same copy loaded with dlr alone tries to reach DLR's endpoint (blocked here), so
    # the empty lists above mean something.
    site_dir, _ = _sandbox(tmp_path)
    result, report = _run(site_dir, LOAD_WITH_DLR_ALONE)
    assert result["dlr_file"].startswith(str(site_dir))
    assert report["network"], report
