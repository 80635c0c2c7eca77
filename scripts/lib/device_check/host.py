"""Host set-up for emulated devices: Debian packages, binfmt_misc, the QEMU handlers.

Needs root (package installs, mounts, chroot). Everything is checked first and changed only when
missing, so a prepared machine runs no apt-get at all.
"""

import os
import shutil
import subprocess
import sys

PACKAGES = {
    # Debian package -> a file it installs that shows it is there
    "qemu-user-static": "/usr/bin/qemu-aarch64-static",
    "binfmt-support": "/usr/sbin/update-binfmts",
    "mmdebstrap": "/usr/bin/mmdebstrap",
    "zstd": "/usr/bin/zstd",
}
BINFMT = "/proc/sys/fs/binfmt_misc"


class HostError(Exception):
    """The host cannot run emulated devices; the message says why and what to do."""


def log(message):
    print(f"device-check: {message}", flush=True)


def require_root():
    if os.geteuid() != 0:
        raise HostError(
            "must run as root: it installs Debian packages (qemu-user-static, binfmt-support, "
            "mmdebstrap, zstd), mounts binfmt_misc, and enters the device root filesystem with "
            "chroot in a private mount namespace. Run it with sudo, e.g. "
            "`sudo scripts/device-check aarch64`.")


def require_debian():
    if not shutil.which("apt-get") or not os.path.exists("/etc/debian_version"):
        raise HostError("needs a Debian or Ubuntu host (apt-get, mmdebstrap, qemu-user-static from the "
                        "distribution); this host has no apt-get.")
    if os.uname().machine != "x86_64":
        raise HostError(f"needs an x86_64 host for the reference run; this host is {os.uname().machine}")


def install_packages():
    missing = [name for name, path in PACKAGES.items() if not os.path.exists(path)]
    if not missing:
        return
    log(f"installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True, env=env)


def enable_binfmt(handlers):
    """Mount binfmt_misc (no systemd here to do it) and enable the QEMU handlers, e.g. qemu-aarch64."""
    if not os.path.exists(os.path.join(BINFMT, "status")):
        log(f"mounting binfmt_misc on {BINFMT}")
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT], check=True)
    for handler in handlers:
        entry = os.path.join(BINFMT, handler)
        if not _enabled(entry):
            subprocess.run(["update-binfmts", "--enable", handler], check=True,
                           stdout=subprocess.DEVNULL)
        if not _enabled(entry):
            raise HostError(f"binfmt handler {handler} is not enabled ({entry}); "
                            f"try `update-binfmts --enable {handler}`")
        with open(entry) as f:
            flags = [line.split(":", 1)[1].strip() for line in f if line.startswith("flags:")]
        if not flags or "F" not in flags[0]:
            # Without F the kernel looks for the interpreter inside the chroot, where there is none.
            raise HostError(f"binfmt handler {handler} lacks flag F ({entry}): reinstall "
                            "qemu-user-static from Debian (its handlers are registered with F)")


def _enabled(entry):
    try:
        with open(entry) as f:
            return f.readline().strip() == "enabled"
    except OSError:
        return False


def prepare(handlers):
    """Everything the host needs, or a HostError that says what is missing."""
    require_debian()
    require_root()
    install_packages()
    enable_binfmt(handlers)


if __name__ == "__main__":
    try:
        prepare(["qemu-aarch64", "qemu-arm"])
    except HostError as exc:
        print(f"device-check: {exc}", file=sys.stderr)
        sys.exit(2)
    log("host ready")
