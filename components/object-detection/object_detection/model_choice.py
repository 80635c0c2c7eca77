"""Which model folder the service loads: `ModelPath`, else the platform's SageMaker Neo model, else the
bundled ONNX model, else one line that says what to compile and where to put it.

The recipe sets, per platform manifest, `GGVISION_PLATFORM`, `GGVISION_NEO_MODEL_DIR` (the unarchived
Neo artifact compiled for that target; a placeholder holding only a README when the component was built
without one) and, where ONNX Runtime exists, `GGVISION_MODEL_DIR` (the bundled ONNX demo model).
"""

import os
from dataclasses import dataclass
from typing import Mapping, Optional

from ggvision.component import ServiceError
from ggvision.runtimes import RuntimeLoadError, runtimes_for
from ggvision.runtimes.dlr import check_artifact

MODEL_DIR_ENV = "GGVISION_MODEL_DIR"
NEO_MODEL_DIR_ENV = "GGVISION_NEO_MODEL_DIR"
PLATFORM_ENV = "GGVISION_PLATFORM"

# The SageMaker Neo compilation target (CreateCompilationJob OutputConfig) for each platform.
NEO_TARGETS = {
    # The runtime's default Jetson DLR is the aarch64 CPU build: GPU targets need a JetPack DLR build.
    "jetson": "TargetPlatform Os LINUX, Arch ARM64 (the CPU, which the default DLR build runs), or, with a "
              "JetPack GPU DLR build in ggvision.DLRRuntime's Jetson slot, TargetDevice jetson_nano, "
              "jetson_tx2 or jetson_xavier (the board's) or TargetPlatform Os LINUX, Arch ARM64, "
              "Accelerator NVIDIA (with its JetPack's gpu-code, trt-ver and cuda-ver)",
    "aarch64": "TargetPlatform Os LINUX, Arch ARM64 (any 64-bit Arm Linux, a Raspberry Pi 4 on a 64-bit OS "
               "included)",
    "armv7l": "TargetDevice rasp3b (Raspberry Pi 3 or 4 on a 32-bit OS) or TargetPlatform Os LINUX, "
              "Arch ARM_EABIHF (CompilerOptions {'mattr': ['+neon']})",
    "x86_64": "TargetPlatform Os LINUX, Arch X86_64",
}
# Platforms where ONNX Runtime has no build, so only a Neo model can run.
NO_ONNX_RUNTIME = ("armv7l",)


@dataclass(frozen=True)
class ModelChoice:
    folder: str
    reason: str  # why this folder, for the start-up log line


def choose_model(model_path: Optional[str], runtime: str = "auto",
                 environ: Optional[Mapping[str, str]] = None) -> ModelChoice:
    """The model folder to load; ServiceError (one line) when this platform has none.

    `runtime` is the configured Runtime: "onnx" passes over the Neo model, "dlr" over the ONNX one.
    A Neo folder that holds anything but a README must be a usable Neo artifact: it never silently
    falls back to the ONNX model.
    """
    env = os.environ if environ is None else environ
    if model_path:
        return ModelChoice(model_path, "ModelPath")
    platform = env.get(PLATFORM_ENV, "")
    neo_dir = env.get(NEO_MODEL_DIR_ENV, "")
    bundled = env.get(MODEL_DIR_ENV, "")
    target = platform or "this platform"
    if not neo_dir:
        neo_state = f"no SageMaker Neo model ({NEO_MODEL_DIR_ENV} is not set)"
    elif runtime == "onnx":
        neo_state = f"the SageMaker Neo model for {target} is not used (Runtime is onnx)"
    else:
        state = _neo_state(neo_dir)
        if state is None:
            return ModelChoice(neo_dir, f"the SageMaker Neo model for {target} ({NEO_MODEL_DIR_ENV})")
        neo_state = f"{neo_dir}, the SageMaker Neo model folder for {target}, {state}"
    if bundled and runtime != "dlr":
        return ModelChoice(bundled, f"the bundled ONNX model ({MODEL_DIR_ENV}); {neo_state}")
    raise ServiceError(no_model_line(platform, neo_state, bundled, runtime))


def _neo_state(neo_dir: str) -> Optional[str]:
    """None when `neo_dir` holds a model; what it holds instead when it is missing or a placeholder.

    Raises ServiceError when it holds something that is not a usable model.
    """
    if not os.path.isdir(neo_dir):
        return "does not exist"
    names = sorted(name for name in os.listdir(neo_dir) if not name.startswith("."))
    if all(name.upper().startswith("README") for name in names):
        return "holds no model (the component was built without one)" if names else "is empty"
    found = runtimes_for(neo_dir)
    try:
        if "dlr" in found:
            check_artifact(neo_dir)
        elif not found:
            raise RuntimeLoadError(f"{neo_dir} holds no model: expected a SageMaker Neo artifact "
                                   f"(compiled.so, compiled.params, compiled_model.json; "
                                   f"found: {', '.join(names)})")
    except RuntimeLoadError as error:
        raise ServiceError(f"the SageMaker Neo model folder ({NEO_MODEL_DIR_ENV}) is not usable: {error}; "
                           f"replace it with the complete artifact Neo wrote, or set ModelPath") from None
    return None


def no_model_line(platform: str, neo_state: str, bundled: str, runtime: str) -> str:
    """No model for this platform: why, which Neo target to compile for, and where to put the artifact."""
    if platform in NO_ONNX_RUNTIME:
        why = f"ONNX Runtime has no build for {platform}, so only a SageMaker Neo model can run there"
    elif runtime == "dlr" and bundled:
        why = "Runtime is dlr, so only a SageMaker Neo model can run"
    else:
        why = f"no ONNX model was shipped ({MODEL_DIR_ENV} is not set)"
    if platform not in NEO_TARGETS:
        shown = f"platform {platform!r}" if platform else f"this platform ({PLATFORM_ENV} is not set)"
        return (f"no model for {shown}: {why}; {neo_state}. Set ModelPath to a model folder, or deploy the "
                f"ggvision.ObjectDetection recipe, whose manifests ship the model for each platform")
    return (f"no model for {platform}: {why}; {neo_state}. Compile the model with SageMaker Neo for "
            f"{NEO_TARGETS[platform]}, then put the unpacked artifact in "
            f"components/object-detection/models/neo-{platform}/ before scripts/build, or build with "
            f"`scripts/build --neo-model {platform}=DIR`, or copy it to the device and set ModelPath "
            f"to its folder")
