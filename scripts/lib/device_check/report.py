"""The check's verdict: the device's figures (install time, frames/s, inference time), the comparison with
the host run, and the PASS/FAIL line; exit status 0 or 1."""

from .compare import compare, stats
from .pipeline import SCORE_THRESHOLD


def log(arch, message):
    print(f"device-check {arch}: {message}", flush=True)


def report(arch, args, device, host_run):
    on_device, on_host = stats(device.records()), stats(host_run.records())
    result = compare(host_run.records(), device.records(), args.tolerance, SCORE_THRESHOLD)
    install = device.install_seconds()
    problems = list(result["problems"])
    if on_device["runtimes"] != ["dlr"] or on_host["runtimes"] != ["dlr"]:
        problems.append(f"runtimes used: device {on_device['runtimes']}, host {on_host['runtimes']} "
                        "(expected dlr)")
    if on_device["machine"] != arch:
        problems.append(f"the recorder ran on {on_device['machine']}, not {arch}")
    for label, values in (("device", on_device), ("host", on_host)):
        python = values["python"] or "?"
        log(arch, f"{label}: components ran with {python}")
        if "/venv/" not in python:
            problems.append(f"{label}: the recorder did not run in the ggvision.DLRRuntime venv ({python})")
    for label, seconds in (("device", install), ("host", host_run.install_seconds())):
        log(arch, "{}: ggvision.DLRRuntime Install took {}".format(
            label, f"{seconds:.1f} s" if seconds is not None else "? (not seen in the nucleus log)"))
    for label, values in (("device", on_device), ("host", on_host)):
        log(arch, "{}: {} frames inferred, {} frames/s (camera {:g} fps), inference {} ms median, "
            "{} mean".format(label, values["frames"], _num(values["fps"], "{:.2f}"), args.frame_rate,
                             _num(values["inference_ms_median"], "{:.1f}"),
                             _num(values["inference_ms_mean"], "{:.1f}")))
    log(arch, "compared {} frames with {} detections (inferred: device {}, host {}): max difference "
        "{:.2g}, tolerance {:g}{}".format(
        result["compared"], result["detections"], result["device_frames"], result["host_frames"],
        result["max_diff"],
        args.tolerance, f", {result['borderline']} borderline" if result["borderline"] else ""))
    for problem in problems[:20]:
        log(arch, problem)
    summary = "install {}, {} frames/s, inference {} ms (emulated)".format(
        f"{install:.0f} s" if install is not None else "?", _num(on_device["fps"], "{:.1f}"),
        _num(on_device["inference_ms_median"], "{:.1f}"))
    if problems:
        print(f"FAIL device-check {arch}: {len(problems)} problem(s) above; {summary}", flush=True)
    else:
        print(f"PASS device-check {arch}: {summary}; {result['compared']} frames ({result['detections']} "
              f"detections) equal to x86_64 within {args.tolerance:g}", flush=True)
    return 0 if not problems else 1


def _num(value, form):
    return "?" if value is None else form.format(value)
