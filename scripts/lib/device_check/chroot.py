"""Entering an unpacked device root filesystem (../shared/emulation.md, "Inside a chroot").

Each command runs in its own private mount namespace (`unshare -m --propagation private`) with proc,
sys and dev mounted into the root, a fresh tmpfs on /tmp and /dev/shm (the frame rings stay inside),
an ARM /proc/cpuinfo bind-mounted over QEMU's pass-through of the host's x86 one (ONNX Runtime and
others read it and crash on x86 flags), and a clean environment (`env -i`). Nothing is mounted in the
host's namespace, so nothing needs unmounting: the mounts go when the last process inside ends.
The command is `exec`ed, so the process the caller holds is the program itself (signals reach it).
"""

import os
import shlex
import subprocess

from . import ARCHES

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # systemd's default, as a device

# The user components run as on a device (Greengrass's default ggc_user:ggc_group).
USER, GROUP, UID, GID = "ggc_user", "ggc_group", 990, 990

_ENTER = r"""
set -e
root="$1"; cpuinfo="$2"; shift 2
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mount --bind "$cpuinfo" "$root/proc/cpuinfo"
exec chroot "$@"
"""


class Chroot:
    """One unpacked root filesystem of architecture `arch` (aarch64 | armv7l)."""

    def __init__(self, root, arch):
        self.root = os.path.abspath(root)
        self.arch = arch
        self.cpuinfo = os.path.join(HERE, ARCHES[arch]["cpuinfo"])

    def host_path(self, inner):
        """The host's path of a path inside the root filesystem."""
        return os.path.join(self.root, inner.lstrip("/"))

    def command(self, argv, env=None, user=None, cwd=None):
        """The host command that runs `argv` inside, with only `env` (plus HOME, PATH, LANG) set.
        `user`: None (root) or USER, the component user."""
        home = f"/home/{USER}" if user == USER else "/root"
        environment = {"HOME": home, "PATH": PATH, "LANG": "C.UTF-8"}
        environment.update(env or {})
        inner = ["/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in environment.items()] + list(argv)
        if cwd:
            inner = ["/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd] + inner
        # numeric: coreutils may look names up on the host, which has no ggc_user
        chroot = ([f"--userspec={UID}:{GID}", f"--groups={GID}"] if user == USER else []) + [self.root]
        return ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", _ENTER, "enter",
                self.root, self.cpuinfo] + chroot + inner

    def run(self, argv, env=None, user=None, cwd=None, **kwargs):
        """subprocess.run inside (kwargs as subprocess.run's)."""
        return subprocess.run(self.command(argv, env, user, cwd), **kwargs)

    def popen(self, argv, env=None, user=None, cwd=None, **kwargs):
        return subprocess.Popen(self.command(argv, env, user, cwd), **kwargs)

    def add_user(self):
        """ggc_user/ggc_group with a home folder, written straight into the root's account files
        (bookworm's apt variant has no useradd)."""
        def append(path, line, name):
            with open(self.host_path(path)) as f:
                if any(row.split(":", 1)[0] == name for row in f.read().splitlines()):
                    return
            with open(self.host_path(path), "a") as f:
                f.write(line + "\n")
        append("/etc/group", f"{GROUP}:x:{GID}:", GROUP)
        append("/etc/passwd", f"{USER}:x:{UID}:{GID}:Greengrass components:/home/{USER}:/bin/sh", USER)
        if os.path.exists(self.host_path("/etc/shadow")):
            append("/etc/shadow", f"{USER}:!:19000:0:99999:7:::", USER)
        home = self.host_path(f"/home/{USER}")
        os.makedirs(home, exist_ok=True)
        os.chown(home, UID, GID)

    def chown(self, inner, recursive=True):
        """Give a path inside to the component user (as a device's Greengrass does for its files)."""
        top = self.host_path(inner)
        os.chown(top, UID, GID)
        if recursive:
            for folder, dirs, files in os.walk(top):
                for name in dirs + files:
                    os.lchown(os.path.join(folder, name), UID, GID)

    def describe(self):
        """`uname -m`, the Python version and glibc inside: one line, for the report."""
        probe = ("import platform, sys; print(platform.machine(), "
                 "'Python %d.%d.%d' % sys.version_info[:3], 'glibc', platform.libc_ver()[1])")
        done = self.run(["/usr/bin/python3", "-c", probe], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"cannot run python3 inside {self.root}: {done.stderr.strip()}")
        return done.stdout.strip()


def shell_line(argv):
    return " ".join(shlex.quote(a) for a in argv)
