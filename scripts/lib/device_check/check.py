"""The device check: build for the device and for this host, run the pipeline on both, compare.

    scripts/device-check aarch64|armv7l [--keep] [--rebuild-rootfs]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import ARCHES, host, rootfs
from .chroot import USER, Chroot
from .compare import DEFAULT_TOLERANCE, frames
from .pipeline import REPO, VIDEO, PipelineRun, ring_folder, video_frames
from .report import report

SHARED = os.path.join(os.path.dirname(REPO), "shared")
FIXTURES = {
    "x86_64": os.path.join(SHARED, "fixtures", "dlr", "colour_detector_512_dlr"),
    "aarch64": os.path.join(SHARED, "fixtures", "dlr-platforms", "colour_detector_512_dlr_aarch64"),
    "armv7l": os.path.join(SHARED, "fixtures", "dlr-platforms", "colour_detector_512_dlr_armv7l"),
}
# The fixtures' input and output (fixtures/dlr/README.md): the model.yaml the DLR tests use too.
MODEL_YAML = os.path.join(REPO, "tests", "fixtures", "colour_detector_512.model.yaml")
DEVICE_PYTHON = "3.11"  # Debian bookworm's, the rootfs's
INNER = "/opt/ggvision-check"
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(arch, message):
    print(f"device-check {arch}: {message}", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="device-check", description="Run CameraCapture -> ObjectDetection with DLR on an emulated ARM "
        "device (QEMU user mode, Debian bookworm) from the built artifacts, installed by the "
        "ggvision.DLRRuntime recipe as on a device, and compare its detections with the same run on "
        "this x86_64 host. Needs root.")
    parser.add_argument("arch", choices=sorted(ARCHES))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (root filesystem, build, "
                        "run folders, logs) and print where it is")
    parser.add_argument("--rebuild-rootfs", action="store_true",
                        help="build the cached root filesystem anew (mmdebstrap)")
    parser.add_argument("--frames", type=int, default=60, metavar="N",
                        help="stop the device run after N inferred frames (default 60)")
    parser.add_argument("--frame-rate", type=float, default=15, metavar="FPS",
                        help="the camera's FrameRate in both runs (default 15, the video's own)")
    parser.add_argument("--source", choices=["frames", "video"], default="frames",
                        help="frames (default): the sample video's frames, decoded once on this host, as "
                        "an image folder, so both runs see the same pixels; video: the AVI itself, "
                        "decoded by each platform's OpenCV (armv7l's Debian build differs by 1-2 levels: "
                        "use --tolerance 0.02 there)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"largest score/box difference accepted (default {DEFAULT_TOLERANCE})")
    parser.add_argument("--timeout", type=float, default=3000, metavar="SECONDS",
                        help="give up on a run after this long, Install included (default 3000)")
    return parser.parse_args(argv)


def missing_fixtures(arch):
    return [path for path in (FIXTURES["x86_64"], FIXTURES[arch]) if not os.path.isdir(path)]


def build_supports_platforms():
    done = subprocess.run([os.path.join(REPO, "scripts", "build"), "--help"], capture_output=True, text=True)
    return "--neo-model" in done.stdout and "--platform" in done.stdout


def neo_model(arch, destination):
    """The fixture compiled for `arch`, with the model.yaml ObjectDetection reads."""
    shutil.copytree(FIXTURES[arch], destination)
    os.chmod(destination, 0o755)
    for name in os.listdir(destination):  # the shared fixtures are read-only
        os.chmod(os.path.join(destination, name), 0o644)
    shutil.copyfile(MODEL_YAML, os.path.join(destination, "model.yaml"))
    return destination


def host_python_version():
    """The version of the `python3` a component on this host gets (the service PATH)."""
    done = subprocess.run(["/usr/bin/env", "-i", f"PATH={SERVICE_PATH}", "python3", "-c",
                           "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def host_python(*modules):
    """A host interpreter with `modules`: PyYAML for the local nucleus, OpenCV to cut the video into
    frames (tools of the check; the components use the runtime's venv)."""
    for candidate in (os.path.join(REPO, ".venv", "bin", "python"), sys.executable, "/usr/bin/python3"):
        if os.path.exists(candidate) and subprocess.run(
                [candidate, "-c", "import " + ", ".join(modules)], capture_output=True).returncode == 0:
            return candidate
    raise host.HostError(f"no Python with {', '.join(modules)} on this host (the check's own tools): "
                         "run scripts/setup")


def build(arch, work):
    pythons = sorted({DEVICE_PYTHON, host_python_version()})
    output = os.path.join(work, "build")
    command = [os.path.join(REPO, "scripts", "build"), "--output-dir", output]
    for platform in ("x86_64", arch):
        command += ["--platform", platform,
                    "--neo-model", f"{platform}={neo_model(platform, os.path.join(work, 'neo', platform))}"]
    for version in pythons:
        command += ["--python", version]
    log(arch, "building the components for x86_64 and {} (Python {}): {}".format(
        arch, ", ".join(pythons), " ".join(command[1:])))
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("scripts/build failed:\n" + (done.stdout + done.stderr)[-3000:])
    log(arch, f"built in {time.monotonic() - started:.0f} s")
    return output


def progress(arch, run, label):
    def report(records, elapsed):
        if "installed" not in run.events:
            log(arch, f"{label}: {elapsed:.0f} s, ggvision.DLRRuntime installing")
        else:
            log(arch, f"{label}: {elapsed:.0f} s, {len(frames(records))} frames inferred")
    return report


def run_device(arch, args, work, build_dir):
    tarball = rootfs.tarball(arch)
    log(arch, f"root filesystem {os.path.basename(tarball)} ({os.path.getsize(tarball) / 1e6:.0f} MB)")
    started = time.monotonic()
    root = os.path.join(work, "rootfs")
    rootfs.unpack(arch, root)
    chroot = Chroot(root, arch)
    chroot.add_user()
    log(arch, f"unpacked in {time.monotonic() - started:.1f} s; inside: {chroot.describe()}")
    run = PipelineRun(arch, chroot.host_path(INNER), INNER, build_dir, args.frame_rate, args.camera_source)
    run.stage()
    for sub in ("run", "out"):
        chroot.chown(f"{INNER}/{sub}")
    command = chroot.command(run.nucleus_argv("/usr/bin/python3", args.timeout), run.nucleus_env(), user=USER)
    log(arch, f"device run: local nucleus as {USER} in the chroot; ggvision.DLRRuntime Install from its "
        "artifacts, then CameraCapture -> ObjectDetection (DLR)")
    run.start(command)
    try:
        ok = run.watch(lambda records: len(frames(records)) >= args.frames, args.timeout,
                       progress(arch, run, "device"))
    finally:
        run.stop()
    return run, ok


def run_host(arch, args, work, build_dir, until_seq):
    run = PipelineRun("x86_64", os.path.join(work, "host"), os.path.join(work, "host"), build_dir,
                      args.frame_rate, args.camera_source)
    run.stage()
    env = {"PATH": SERVICE_PATH, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    env.update(run.nucleus_env())
    log(arch, f"host run (x86_64) up to frame {until_seq}")
    run.start(run.nucleus_argv(host_python("yaml"), args.timeout), env=env)

    def done(records):
        seen = frames(records)
        return bool(seen) and max(seq for _, seq in seen) >= until_seq
    try:
        ok = run.watch(done, args.timeout, progress(arch, run, "host"))
    finally:
        run.stop()
        shutil.rmtree(ring_folder(), ignore_errors=True)
    return run, ok


def fail(arch, run, message):
    log(arch, message)
    if run is not None:
        print(f"--- last lines of {run.log_path}", flush=True)
        for line in run.log_tail():
            print(line)
    print(f"FAIL device-check {arch}", flush=True)
    return 1


def check(arch, args, work):
    if not build_supports_platforms():
        raise host.HostError("scripts/build has no --platform/--neo-model options yet: "
                             "the per-platform build is needed")
    rootfs_error = []

    def ensure_rootfs():
        try:
            rootfs.build(arch, rebuild=args.rebuild_rootfs)
        except Exception as error:  # reported below
            rootfs_error.append(error)
    builder = threading.Thread(target=ensure_rootfs)  # alongside the component build
    builder.start()
    args.camera_source = VIDEO
    if args.source == "frames":
        args.camera_source = video_frames(host_python("cv2"), os.path.join(work, "sample-video-frames"))
    build_dir = build(arch, work)
    builder.join()
    if rootfs_error:
        raise rootfs_error[0]

    device, ok = run_device(arch, args, work, build_dir)
    if not ok:
        return fail(arch, device, f"device run failed: {device.failure}")
    device_records = device.records()
    until = max(seq for _, seq in frames(device_records))
    host_run, ok = run_host(arch, args, work, build_dir, until)
    if not ok:
        return fail(arch, host_run, f"host run failed: {host_run.failure}")
    return report(arch, args, device, host_run)


def mounted_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path.rstrip("/") + "/")]


def main(argv=None):
    args = parse_args(argv)
    arch = args.arch
    missing = missing_fixtures(arch)
    if missing:
        log(arch, "SKIP: the DLR test models are not here ({}); they come with the shared fixtures "
            "next to the repository (../shared/fixtures)".format(", ".join(missing)))
        return 0
    try:
        host.prepare([ARCHES[arch]["qemu"]])
    except host.HostError as error:
        log(arch, str(error))
        return 2
    os.makedirs(rootfs.cache_dir(), exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"run-{arch}-", dir=rootfs.cache_dir())
    try:
        return check(arch, args, work)
    except host.HostError as error:
        log(arch, str(error))
        return 2
    except (RuntimeError, subprocess.CalledProcessError) as error:
        log(arch, str(error))
        print(f"FAIL device-check {arch}", flush=True)
        return 1
    finally:
        if args.keep:
            log(arch, f"kept {work}")
        elif mounted_under(work):  # never delete through a mount (private namespaces should prevent it)
            log(arch, f"not removing {work}: still mounted: {mounted_under(work)[:3]}")
        else:
            shutil.rmtree(work, ignore_errors=True)
