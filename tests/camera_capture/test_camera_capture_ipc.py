"""The CameraCapture service on a local nucleus with the real IPC client, under its recipe's policy:
video files, image folders and an HTTP MJPEG camera that drops and comes back. Every event is
validated against its schema; pixels are read back from the shared-memory ring."""

import threading
import time

import camera_helpers as helpers
import pytest
from camera_capture.service import CaptureService
from camera_capture.settings import CaptureSettings
from camera_capture.sources.mjpeg import MjpegSource
from ggvision.component import run_component
from ggvision.frames import FrameReader, FrameUnavailable
from ggvision.lifecycle import StopSignal
from harness import connect, local_nucleus, pubsub_policy

pytestmark = pytest.mark.timeout(60)


def read_index(reader, event):
    """The frame index the pixels behind `event` encode, or None when the slot was overwritten."""
    try:
        image = reader.read(event)
    except FrameUnavailable:
        return None
    assert image.shape == (event["height"], event["width"], 3)
    return helpers.index_of(image)


def test_video_file_frames_reach_subscribers_through_the_ring_in_order(tmp_path):
    video = helpers.make_video(str(tmp_path / "clip.avi"), frames=20)
    config = helpers.configuration(tmp_path, [
        {"CameraId": "clip", "Source": video, "PlaybackSpeed": "max", "FrameRate": 25}])
    with helpers.running_capture(config) as capture:
        reader = FrameReader(config["RingFolder"])
        events, indexes = [], []
        for _ in range(20):  # each read as it arrives, as a consumer does
            events += capture.frame_events(1)
            indexes.append(read_index(reader, events[-1]))
        reader.close()
        ended = capture.wait_status(lambda s: s["state"] == "ENDED")
    assert [event["seq"] for event in events] == list(range(20))
    assert all(event["transport"] == "shm" and event["camera_id"] == "clip" for event in events)
    assert (events[0]["width"], events[0]["height"]) == (helpers.WIDTH, helpers.HEIGHT)
    read = [index for index in indexes if index is not None]
    assert len(read) >= 15  # a busy test machine may let the camera lap the reader now and then
    assert read == sorted(read)  # every frame of the file, in order (max speed: none dropped)
    assert all(indexes[i] in (None, i) for i in range(20))
    assert ended["frames_out"] == 20 and ended["dropped"] == 0 and ended["source"] == video


def test_image_folder_loops_in_name_order_with_jpeg_transport_and_downscale(tmp_path):
    folder = helpers.make_image_folder(str(tmp_path / "images"), 5)
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    config = helpers.configuration(tmp_path, [
        {"CameraId": "shelf", "Source": folder, "Loop": True, "PlaybackSpeed": "max", "FrameRate": 50,
         "Transport": "jpeg", "MaxWidth": 32}])
    with helpers.running_capture(config) as capture:
        events = capture.frame_events(12)
        status = capture.wait_status(lambda s: s["frames_out"] > 0)
    reader = FrameReader(config["RingFolder"])
    indexes = [helpers.index_of(reader.read(event)) for event in events]
    assert indexes == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert all(event["transport"] == "jpeg" for event in events)
    assert all((event["width"], event["height"]) == (32, 24) for event in events)
    assert status["transport"] == "jpeg" and (status["width"], status["height"]) == (32, 24)


def test_mjpeg_camera_that_drops_is_reported_reconnected_and_resumes(tmp_path):
    camera = helpers.MjpegCamera(fps=30, credentials="viewer:s3cret").start()
    config = helpers.configuration(tmp_path, [{"CameraId": "door", "Source": camera.url(), "FrameRate": 0}])
    try:
        with helpers.running_capture(config) as capture:
            reader = FrameReader(config["RingFolder"])
            before = capture.frame_events(5)
            assert [read_index(reader, event) for event in before].count(None) < 5
            capture.wait_status(lambda s: s["state"] == "STREAMING")

            camera.stop()
            dropped = capture.wait_status(lambda s: s["state"] == "RECONNECTING" and s["reconnects"] >= 1)
            assert dropped["last_error"]
            assert dropped["source"] == f"http://127.0.0.1:{camera.port}/stream"  # no credentials

            camera.start()  # the same port
            back = capture.wait_status(lambda s: s["state"] == "STREAMING")
            while capture.frames.get_nowait() is not None:  # frames from before the drop
                pass
            after = capture.frame_events(5)
            assert [read_index(reader, event) for event in after].count(None) < 5
            reader.close()
    finally:
        camera.stop()
    assert after[0]["seq"] > before[-1]["seq"]  # one ring, counting on across the reconnect
    assert back["reconnects"] >= dropped["reconnects"]
    for text in (str(dropped), str(back)):
        assert "s3cret" not in text and "viewer" not in text


def test_frames_between_turns_are_taken_off_the_source_without_decoding(tmp_path):
    # A 60 fps MJPEG camera announced at 5 fps: most frames are skipped (read, not decoded).
    counts = {"decoded": 0, "skipped": 0}

    class CountingMjpeg(MjpegSource):
        def read(self, into=None):
            counts["decoded"] += 1
            return super().read(into)

        def skip(self):
            counts["skipped"] += 1
            return super().skip()

    camera = helpers.MjpegCamera(fps=60).start()
    config = helpers.configuration(tmp_path, [{"CameraId": "fast", "Source": camera.url(), "FrameRate": 5}])
    try:
        with local_nucleus() as nucleus:
            capture = helpers.Capture(nucleus, config)
            capture.service = CaptureService(capture.service.settings, capture.ipc,
                                             make_source=lambda c: CountingMjpeg(c.source, c.read_timeout_s))
            capture.service.start()
            try:
                events = capture.frame_events(6)
                status = capture.wait_status(lambda s: s["dropped"] > 0 and s["frames_out"] >= 6)
            finally:
                capture.close()
    finally:
        camera.stop()
    assert counts["skipped"] > counts["decoded"] >= 6, counts
    assert all(event["ts"] - event["captured_at"] < 0.5 for event in events)
    assert status["state"] == "STREAMING" and status["fps_in"] > status["fps_out"]


def test_slow_consumer_always_gets_a_fresh_frame_not_a_queue(tmp_path):
    # A 25 fps looping file at its own rate, announced at 10 fps, read by a consumer at ~3 fps.
    video = helpers.make_video(str(tmp_path / "live.avi"), frames=50, fps=25)
    config = helpers.configuration(tmp_path, [
        {"CameraId": "live", "Source": video, "Loop": True, "FrameRate": 10}])
    with helpers.running_capture(config) as capture:
        reader = FrameReader(config["RingFolder"])
        ages = []
        for _ in range(8):
            time.sleep(0.3)  # the slow consumer's work
            message = capture.frames.get_latest(helpers.WAIT)
            assert message is not None
            event = message.payload
            ages.append(time.time() - event["captured_at"])
            assert event["ts"] - event["captured_at"] < 0.5  # announced right after capture
            assert read_index(reader, event) is not None  # and still in its slot
        reader.close()
        status = capture.wait_status(lambda s: s["dropped"] > 0 and s["fps_in"] > 0)
    # About one announcement period old (0.1 s), however long the consumer took: never a growing
    # backlog (which would be several seconds by now). Generous bound for busy machines.
    assert max(ages) < 0.75, ages
    assert ages[-1] < 0.75
    assert status["fps_in"] > status["fps_out"] > 0


def test_file_played_at_max_speed_is_read_just_in_time_for_each_turn(tmp_path):
    # Lockstep playback at 4 fps: a frame read as soon as the previous one was taken would wait a
    # whole period (0.25 s) in the slot and go out with a stale capture time.
    video = helpers.make_video(str(tmp_path / "clip.avi"), frames=20)
    config = helpers.configuration(tmp_path, [
        {"CameraId": "clip", "Source": video, "PlaybackSpeed": "max", "FrameRate": 4}])
    with helpers.running_capture(config) as capture:
        events = capture.frame_events(6)
    assert [event["seq"] for event in events] == list(range(6))  # lockstep still sends every frame
    waits = sorted(event["ts"] - event["captured_at"] for event in events[1:])
    assert waits[len(waits) // 2] < 0.125, waits  # well under the period: read just before its turn


def test_unreachable_source_is_retried_with_backoff_without_stopping_the_others(tmp_path):
    video = helpers.make_video(str(tmp_path / "ok.avi"), frames=10)
    config = helpers.configuration(tmp_path, [
        {"CameraId": "missing", "Source": str(tmp_path / "absent.avi")},
        {"CameraId": "ok", "Source": video, "Loop": True, "PlaybackSpeed": "max", "FrameRate": 20}])
    with helpers.running_capture(config) as capture:
        failing = capture.wait_status(lambda s: s["camera_id"] == "missing" and s["reconnects"] >= 2)
        assert failing["state"] == "RECONNECTING" and "no video file" in failing["last_error"]
        assert all(event["camera_id"] == "ok" for event in capture.frame_events(5))


def test_metrics_are_put_for_fps_and_drops(tmp_path):
    # The nucleus takes PutComponentMetric from aws.* components only: run the service under such a name.
    video = helpers.make_video(str(tmp_path / "m.avi"), frames=10)
    config = helpers.configuration(tmp_path, [{"CameraId": "m", "Source": video, "Loop": True}])
    config["accessControl"]["aws.greengrass.ipc.componentmetric"] = {
        "aws.test.Capture:metrics": {"operations": ["aws.greengrass#PutComponentMetric"], "resources": ["*"]}}
    name = "aws.test.Capture"
    for policy_id in list(config["accessControl"]["aws.greengrass.ipc.pubsub"]):
        policies = config["accessControl"]["aws.greengrass.ipc.pubsub"]
        policies[policy_id.replace(helpers.NAME, name)] = policies.pop(policy_id)
    with helpers.running_capture(config, name=name) as capture:
        capture.wait_status(lambda s: s["frames_out"] > 0)
        deadline = time.monotonic() + helpers.WAIT
        while time.monotonic() < deadline and len(capture.nucleus.metrics(name)) < 4:
            time.sleep(0.1)
        names = {metric["name"] for metric in capture.nucleus.metrics(name)}
    assert {"FpsIn", "FpsOut", "DroppedFrames", "Reconnects"} <= names


def test_live_frame_rate_change_keeps_the_camera_and_a_new_camera_starts_alone(tmp_path):
    video = helpers.make_video(str(tmp_path / "a.avi"), frames=10)
    config = helpers.configuration(tmp_path, [{"CameraId": "a", "Source": video, "Loop": True}])
    services = []

    def build(settings, ipc):
        services.append(CaptureService(settings, ipc))
        return services[-1]

    with local_nucleus() as nucleus:
        ipc = connect(nucleus, helpers.NAME, config)
        observer = connect(nucleus, "test.Observer", pubsub_policy(subscribe=["ggvision/cameras/+/frames"]))
        frames = observer.subscribe("ggvision/cameras/+/frames", 1000)
        stop = StopSignal(install_handlers=False)
        runner = threading.Thread(target=run_component,
                                  args=(helpers.NAME, CaptureSettings, build, ipc, stop))
        runner.start()
        try:
            assert nucleus.wait_for_state(helpers.NAME, "RUNNING", helpers.WAIT)
            assert frames.get(helpers.WAIT) is not None
            first = services[0].cameras["a"]

            nucleus.update_configuration(helpers.NAME, [], {"FrameRate": 4})
            deadline = time.monotonic() + helpers.WAIT
            while first.config.frame_rate != 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert first.config.frame_rate == 4 and services[0].cameras["a"] is first and len(services) == 1

            cameras = config["Cameras"] + [{"CameraId": "b", "Source": video, "Loop": True}]
            nucleus.update_configuration(helpers.NAME, [], {"Cameras": cameras})
            deadline = time.monotonic() + helpers.WAIT
            seen = set()
            while "b" not in seen and time.monotonic() < deadline:
                message = frames.get(0.2)
                if message is not None:
                    seen.add(message.payload["camera_id"])
            assert "b" in seen and services[0].cameras["a"] is first and len(services) == 1

            # Any other per-camera key restarts that camera alone; its frame numbers keep counting.
            last_seq = 0
            while True:
                message = frames.get_nowait()
                if message is None:
                    break
                if message.payload["camera_id"] == "a":
                    last_seq = max(last_seq, message.payload["seq"])
            nucleus.update_configuration(helpers.NAME, [], {"MaxWidth": 32})
            deadline = time.monotonic() + helpers.WAIT
            while time.monotonic() < deadline:
                message = frames.get(0.2)
                event = message.payload if message is not None else {}
                if event.get("camera_id") == "a" and event.get("width") == 32:
                    break
            assert message.payload["width"] == 32 and message.payload["seq"] > last_seq
            assert services[0].cameras["a"] is not first and len(services) == 1
        finally:
            stop.set()
            runner.join(helpers.WAIT)
            observer.close()
    assert not runner.is_alive()


def test_a_topic_outside_the_policy_is_refused_and_reported(tmp_path):
    # Least privilege: the recipe allows ggvision/cameras/*/frames and /status only.
    video = helpers.make_video(str(tmp_path / "p.avi"), frames=10)
    config = helpers.configuration(tmp_path, [{"CameraId": "p", "Source": video, "Loop": True}],
                                   FramesTopic="elsewhere/{CameraId}/frames")
    with helpers.running_capture(config) as capture:
        status = capture.wait_status(lambda s: s["last_error"] is not None)
    assert "publishing to elsewhere/p/frames failed: UnauthorizedError" in status["last_error"]
    assert "accessControl" in status["last_error"]
