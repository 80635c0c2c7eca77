"""Device code (components/, shared/ggvision/) must run on Python 3.8 (Jetson JetPack 5)."""

import ast
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CANDIDATES = ["python3.8", os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python3.8")]


def python38():
    for candidate in CANDIDATES:
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            try:
                subprocess.run([found, "-c", "pass"], check=True, capture_output=True, timeout=30)
                return found
            except (OSError, subprocess.SubprocessError):
                continue
    return None


def device_sources():
    patterns = ["shared/ggvision/**/*.py", "components/*/main.py", "components/*/*/**/*.py"]
    return sorted({path for pattern in patterns for path in glob.glob(os.path.join(ROOT, pattern),
                                                                         recursive=True)})


def test_device_code_compiles_with_python_3_8():
    interpreter = python38()
    if interpreter is None:
        pytest.skip("no Python 3.8 on this machine (ruff's py38 target still checks the syntax)")
    sources = device_sources()
    assert sources
    script = ("import sys, ast\n"
              "for p in sys.argv[1:]:\n"
              "    ast.parse(open(p, encoding='utf-8').read(), p, feature_version=(3, 8))\n"
              "    compile(open(p, encoding='utf-8').read(), p, 'exec')\n")
    result = subprocess.run([interpreter, "-c", script] + sources, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def _annotations(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.args + node.args.kwonlyargs + node.args.posonlyargs
            yield from (a.annotation for a in arguments if a.annotation is not None)
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def test_device_code_has_no_union_operator_in_annotations():
    # `X | Y` annotations are evaluated when the function or class is defined: a TypeError on 3.8.
    offenders = []
    for path in device_sources():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for annotation in _annotations(tree):
            for node in ast.walk(annotation):
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                    offenders.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}")
    assert offenders == []
