"""The device's root filesystem: Debian bookworm for arm64 / armhf, built once with mmdebstrap and kept
packed (tar.zst) in the cache; each check unpacks a fresh copy (seconds).

The packages are what a device user installs per docs/deployment.md: python3 with venv and pip, and on
armhf (Raspberry Pi OS 32-bit) Debian's numpy, OpenCV, PyYAML and awscrt, which PyPI has no armv7l
wheels for. python3-yaml is also what the local nucleus (which runs inside, as the device's
Greengrass nucleus) needs. The cache key covers the package list, so changing it builds anew.

    python3 scripts/lib/device_check/rootfs.py build aarch64 [--rebuild]   # fill the cache
    python3 scripts/lib/device_check/rootfs.py path aarch64                # where the tarball is
"""

import argparse
import fcntl
import glob
import hashlib
import json
import os
import subprocess
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "device_check"  # noqa: A001

from device_check import ARCHES  # noqa: E402
from device_check.host import log  # noqa: E402

SUITE = "bookworm"
# armhf: leave out the security suite (its index was mid-sync and failed: ../shared/emulation.md).
SUITES = [SUITE, f"{SUITE}-updates"]
BASE = ["python3", "python3-venv", "python3-pip", "ca-certificates",
        "python3-yaml"]  # the local nucleus (the device's Greengrass) needs PyYAML
DEVICE_PACKAGES = {
    "aarch64": [],
    # Raspberry Pi OS 32-bit: no PyPI wheels for these on armv7l (docs/deployment.md, DLRRuntime recipe)
    "armv7l": ["python3-numpy", "python3-opencv", "python3-awscrt"],
}
# Smaller and faster to unpack; nothing in the check reads documentation.
DPKG_OPTIONS = ["path-exclude=/usr/share/man/*", "path-exclude=/usr/share/doc/*",
                "path-include=/usr/share/doc/*/copyright", "path-exclude=/usr/share/locale/*",
                "path-exclude=/usr/share/info/*"]
FORMAT = 1  # bump when the build below changes in a way the key does not see


def cache_dir():
    base = os.environ.get("GGVISION_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ggvision")
    return os.path.join(base, "device-check")


def packages(arch):
    return sorted(set(BASE + DEVICE_PACKAGES[arch]))


def key(arch):
    spec = {"format": FORMAT, "suites": SUITES, "arch": ARCHES[arch]["debian"], "variant": "apt",
            "packages": packages(arch), "dpkg": DPKG_OPTIONS}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def tarball(arch):
    return os.path.join(cache_dir(), f"{SUITE}-{ARCHES[arch]['debian']}-{key(arch)}.tar.zst")


def mirror():
    """The Debian mirror apt on this host uses (deb822 .sources or one-line .list files)."""
    found = []
    paths = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) \
        + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.lstrip().startswith("#"):
                        name, value = line.split(":", 1)
                        fields[name.strip().lower()] = value.split()
                if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"])[0] != "no":
                    for uri in fields.get("uris", []):
                        found.append((uri, fields.get("suites", [])))
        else:
            for line in text.splitlines():
                words = line.split("#", 1)[0].split()
                if words[:1] == ["deb"]:
                    words = [w for w in words[1:] if not w.startswith("[")]
                    if len(words) >= 2:
                        found.append((words[0], [words[1]]))
    for uri, suites in found:
        # the main archive: it carries the plain suite (not -security), under a .../debian path
        if any(s in (SUITE, "stable") for s in suites) and "security" not in uri:
            return uri.rstrip("/")
    for uri, _ in found:
        if uri.rstrip("/").endswith("/debian") and "security" not in uri:
            return uri.rstrip("/")
    return "http://deb.debian.org/debian"


def build(arch, rebuild=False):
    """The packed root filesystem for `arch`, built when missing (5-30 min). Safe to call from
    several processes: one builds, the others wait for it."""
    target = tarball(arch)
    os.makedirs(cache_dir(), exist_ok=True)
    with open(target + ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another build of {os.path.basename(target)} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(target) and not rebuild:
            return target
        _mmdebstrap(arch, target)
        _prune(arch, target)
    return target


def _mmdebstrap(arch, target):
    partial = target[:-len(".tar.zst")] + ".partial.tar.zst"  # mmdebstrap compresses by extension
    logfile = target[:-len(".tar.zst")] + ".log"
    source = mirror()
    command = ["mmdebstrap", "--variant=apt", f"--architectures={ARCHES[arch]['debian']}",
               f"--include={','.join(packages(arch))}"]
    command += [f"--dpkgopt={option}" for option in DPKG_OPTIONS]
    command += [SUITE, partial] + [f"deb {source} {suite} main" for suite in SUITES]
    log(f"building the {arch} root filesystem ({ARCHES[arch]['debian']}, {source}): 5-30 min cold; "
        f"log: {logfile}")
    started = time.monotonic()
    with open(logfile, "w") as out:
        out.write(" ".join(command) + "\n")
        out.flush()
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    if status != 0:
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        with open(logfile) as f:
            tail = f.read().splitlines()[-15:]
        raise RuntimeError(f"mmdebstrap failed (exit {status}) for {arch}; last lines of {logfile}:\n"
                           + "\n".join(tail))
    os.replace(partial, target)
    size = os.path.getsize(target) / 1e6
    log(f"{arch} root filesystem built in {time.monotonic() - started:.0f} s: {target} ({size:.0f} MB)")


def _prune(arch, keep):
    """Tarballs of this architecture with another key (an older package list) are dead weight."""
    pattern = os.path.join(cache_dir(), f"{SUITE}-{ARCHES[arch]['debian']}-*.tar.zst")
    for path in glob.glob(pattern):
        if path != keep and not path.endswith(".partial.tar.zst"):
            os.unlink(path)
            for extra in (path[:-len(".tar.zst")] + ".log", path + ".lock"):
                if os.path.exists(extra):
                    os.unlink(extra)


def unpack(arch, dest):
    """A fresh copy of the root filesystem in `dest` (an empty or missing directory)."""
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["tar", "--use-compress-program=zstd -d -T0", "--numeric-owner", "-xpf",
                    tarball(arch), "-C", dest], check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("action", choices=["build", "path", "packages", "mirror"])
    parser.add_argument("arch", choices=sorted(ARCHES), nargs="?", default="aarch64")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "build":
        from device_check import host
        host.prepare([ARCHES[args.arch]["qemu"]])
        print(build(args.arch, rebuild=args.rebuild))
    elif args.action == "path":
        print(tarball(args.arch))
    elif args.action == "packages":
        print(" ".join(packages(args.arch)))
    else:
        print(mirror())
    return 0


if __name__ == "__main__":
    sys.exit(main())
