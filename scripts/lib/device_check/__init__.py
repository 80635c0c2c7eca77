"""scripts/device-check: run the built components on an emulated ARM device (QEMU user mode + a Debian
root filesystem) and compare its detections with the same run on this x86_64 host.

Modules, one concept each:
  host      host set-up: root, Debian packages (qemu-user-static, mmdebstrap, ...), binfmt_misc
  rootfs    the cached, packed Debian root filesystem per architecture (mmdebstrap -> tar.zst)
  chroot    entering an unpacked root filesystem: private mount namespace, ARM cpuinfo, env -i
  pipeline  one CameraCapture -> ObjectDetection run under the local nucleus (device or host)
  compare   detections of two runs, frame by frame, within a tolerance
  report    the figures, the comparison's verdict and the PASS/FAIL line
  check     the whole check: build, device run, host run, report
  recorder/ the recorder component (recipe + artifact) both runs deploy next to ggvision's
  cpuinfo-* an Arm /proc/cpuinfo per architecture (QEMU passes the host's x86 one through)
"""

# Device names (as `uname -m` reports them) -> Debian architecture and the names used elsewhere.
ARCHES = {
    "aarch64": {"debian": "arm64", "cpuinfo": "cpuinfo-arm64", "qemu": "qemu-aarch64"},
    "armv7l": {"debian": "armhf", "cpuinfo": "cpuinfo-armhf", "qemu": "qemu-arm"},
}
