"""Bad configuration never takes a running component down (#9 point 4), with the real CameraCapture
process over the local nucleus:

- a deployment is validated before it applies (SubscribeToValidateConfigurationUpdates): an invalid
  value fails the deployment with the component's one clear line, the running configuration stays,
  and the component keeps RUNNING without a restart; a valid one applies;
- an update that reaches the component unvalidated and invalid is refused by the component, which
  keeps running on its last valid configuration and says so.
"""


import camera_helpers as helpers
import pytest
from local_nucleus.server import DeploymentFailed

pytestmark = pytest.mark.timeout(120)

NAME = helpers.NAME


def wait_for_line(launcher, text, timeout=helpers.WAIT):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in launcher.log_lines(NAME) if text in line]
        if lines:
            return lines
        time.sleep(0.1)
    raise AssertionError(f"no log line with {text!r}: {launcher.log_lines(NAME)[-15:]}")


def test_invalid_deployments_fail_and_the_component_keeps_running(nucleus, built, tmp_path):
    video = helpers.make_video(str(tmp_path / "clip.avi"), frames=25, fps=25)
    merge = {"Cameras": [{"CameraId": "cam", "Source": video, "Loop": True}], "FrameRate": 5,
             "RingFolder": str(tmp_path / "rings")}
    launcher = helpers.launch(nucleus, built, tmp_path, merge)
    try:
        assert launcher.wait_for_state(NAME, "RUNNING", helpers.WAIT), launcher.log_lines(NAME)
        wait_for_line(launcher, f"{NAME} running")
        history = launcher.state_history(NAME)

        for bad, shown in (({"FrameRate": -1}, "FrameRate = -1 (allowed: a number from 0 to 1000)"),
                           ({"StatusIntervalSeconds": "abc"}, "StatusIntervalSeconds = 'abc'"),
                           ({"RingSlots": "1e999"}, "RingSlots = '1e999'")):
            with pytest.raises(DeploymentFailed) as failed:
                nucleus.deploy_configuration(NAME, [], bad, timeout=30)
            assert "rejected the configuration" in str(failed.value) and shown in str(failed.value)
            key = next(iter(bad))
            assert nucleus.get_configuration(NAME)[key] != bad[key]  # the running configuration stays
        assert nucleus.get_configuration(NAME)["FrameRate"] == 5

        nucleus.deploy_configuration(NAME, [], {"FrameRate": 7}, timeout=30)  # a valid one applies
        assert nucleus.get_configuration(NAME)["FrameRate"] == 7
        wait_for_line(launcher, "applying configuration change of FrameRate")

        # Unvalidated and invalid (a local update): refused by the component, which runs on.
        nucleus.update_configuration(NAME, [], {"FrameRate": "fast"})
        wait_for_line(launcher, "keeping the last valid configuration")
        assert launcher.state(NAME) == "RUNNING"
        assert launcher.state_history(NAME) == history  # no ERRORED, no restart at any point
        assert not [line for line in launcher.log_lines(NAME) if line.startswith("Traceback")]
    finally:
        launcher.stop()
