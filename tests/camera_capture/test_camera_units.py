"""CameraCapture pieces on their own: backoff, credential redaction, settings, source kinds, the
newest-frame slot, downscale and the MJPEG reader against a local server."""

import copy
import dataclasses
import threading
import time

import camera_helpers as helpers
import numpy as np
import pytest
from camera_capture.backoff import Backoff
from camera_capture.downscale import fit_within, fitted_size
from camera_capture.latest import Frame, LatestFrame
from camera_capture.redaction import redact, redact_source, redact_value
from camera_capture.service import CaptureService
from camera_capture.settings import CaptureSettings, camera_configs
from camera_capture.sources import SourceError, make_source, source_kind
from camera_capture.sources.image_folder import ImageFolderSource
from camera_capture.sources.kinds import DEVICE, MJPEG, PATH, RTSP
from camera_capture.sources.mjpeg import MjpegSource, boundary_of, split_credentials
from camera_capture.sources.video_file import VideoFileSource
from ggvision.component import ServiceError
from ggvision.config import ConfigError, parse_config

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------- backoff

def test_backoff_delays_double_then_stay_at_the_cap():
    backoff = Backoff(initial=0.5, maximum=5.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_only_shortens_and_never_passes_the_cap():
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.5, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.5, rng=lambda: 0.0)
    assert max(backoff.next_delay() for _ in range(10)) == 8.0


def test_backoff_cap_below_initial_is_the_initial_delay():
    assert Backoff(initial=3.0, maximum=1.0).next_delay() == 3.0
    with pytest.raises(ValueError):
        Backoff(initial=0, maximum=1)


# ---------------------------------------------------------------- redaction

@pytest.mark.parametrize("text, expected", [
    ("rtsp://admin:s3cret@10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1"),
    ("rtsp://admin@cam/stream", "rtsp://cam/stream"),
    ("http://user:p%40ss@cam.local/video.mjpg", "http://cam.local/video.mjpg"),
    ("http://cam/snapshot.cgi?user=admin&pwd=s3cret&res=1", "http://cam/snapshot.cgi?user=***&pwd=***&res=1"),
    ("https://cam/mjpeg?token=abc.def&fps=5", "https://cam/mjpeg?token=***&fps=5"),
    ("cannot open rtsp://a:b@h/x: timeout", "cannot open rtsp://h/x: timeout"),
    ("/videos/front.mp4", "/videos/front.mp4"),
    ("0", "0"),
])
def test_redaction_removes_credentials_from_sources_and_messages(text, expected):
    assert redact(text) == expected
    assert "s3cret" not in redact(text)


@pytest.mark.parametrize("source, expected", [
    # The user-info ends at the LAST '@' before the host: an unencoded '@' in the password leaks nothing.
    ("rtsp://admin:p@ss@cam/stream", "rtsp://cam/stream"),
    ("rtsp://admin:s3c@r@et@10.0.0.5:554/s", "rtsp://10.0.0.5:554/s"),
    # '/', '#', '?' and a space in an unencoded password.
    ("rtsp://admin:s3/cret@cam/stream", "rtsp://cam/stream"),
    ("rtsp://admin:s3#cret@cam/stream", "rtsp://cam/stream"),
    ("rtsp://admin:s3?cret@cam/stream", "rtsp://cam/stream"),
    ("rtsp://admin:s3 cret@cam/stream", "rtsp://cam/stream"),
    ("http://admin:a/b#c d@e@cam:8080/video.mjpg?fps=5", "http://cam:8080/video.mjpg?fps=5"),
    ("rtsp://u:s3cret@[fe80::1]:554/s", "rtsp://[fe80::1]:554/s"),
    # Not valid URLs: whatever precedes the last '@' is taken for user-info.
    ("rtsp:/admin:s3cret@cam/stream", "rtsp:/cam/stream"),
    ("rtsp:admin:s3cret@cam/stream", "rtsp:cam/stream"),
    ("admin:s3cret@cam/stream", "cam/stream"),
    ("//admin:s3cret@cam/stream", "//cam/stream"),
    ("http://cam/snap.cgi?pwd=s3 cret&res=1", "http://cam/snap.cgi?pwd=***&res=1"),
    # What has no credentials is kept.
    ("/videos/front@2x.mp4", "/videos/front@2x.mp4"),
    ("rtsp://cam/stream", "rtsp://cam/stream"),
])
def test_source_redaction_drops_everything_up_to_the_last_at(source, expected):
    assert redact_source(source) == expected
    for secret in ("s3", "cret", "ss@", "p@", "admin"):
        assert secret not in redact_source(source) or secret in expected
    if "://" in source and "pwd=" not in source:  # the same in free text (logs, error messages)
        assert redact(source) == expected


def test_an_error_text_quoting_a_source_with_an_unencoded_password_leaks_none_of_it():
    text = "cannot open rtsp://admin:p@ss w/rd#1@cam/s: timeout after 5 s"
    assert redact(text) == "cannot open rtsp://cam/s: timeout after 5 s"


def test_values_given_as_lists_or_objects_are_redacted_inside():
    value = {"url": "rtsp://admin:s3cret@cam/s", "Password": "s3cret", "more": ["http://u:s3cret@x/y", 5]}
    assert redact_value(value) == {"url": "rtsp://cam/s", "Password": "***", "more": ["http://x/y", 5]}


# ---------------------------------------------------------------- settings

def settings_with(**changes):
    config = copy.deepcopy(helpers.recipe_configuration())
    config.update(changes)
    return config


def test_recipe_defaults_parse_and_fill_each_camera():
    settings = parse_config(CaptureSettings, settings_with(
        Cameras=[{"CameraId": "front", "Source": "0"},
                 {"CameraId": "door", "Source": "rtsp://u:p@door/s", "FrameRate": "2.5",
                  "Transport": "JPEG"}]))
    front, door = camera_configs(settings)
    assert (front.camera_id, front.frame_rate, front.transport) == ("front", 10, "shm")
    assert (door.frame_rate, door.transport, door.loop) == (2.5, "jpeg", False)
    assert (front.device_width, front.device_height, front.device_format) == (0, 0, "")
    assert door.frames_topic == "ggvision/cameras/door/frames"
    assert door.status_topic == "ggvision/cameras/door/status"
    assert front.same_except_frame_rate(front) and not front.same_except_frame_rate(door)


def test_numeric_source_is_a_device_number():
    settings = parse_config(CaptureSettings, settings_with(Cameras=[{"CameraId": "usb", "Source": 1}]))
    assert settings.cameras[0].source == "1"


@pytest.mark.parametrize("cameras, message", [
    ([{"CameraId": "a", "Source": "0"}, {"CameraId": "a", "Source": "1"}],
     "Cameras[1].CameraId = 'a' (allowed: a CameraId used by one camera only)"),
    ([{"CameraId": "a", "Source": "0", "FrameRate": -1}],
     "Cameras[0].FrameRate = -1 (allowed: a number from 0 to 1000)"),
    ([{"CameraId": "a", "Source": "0", "FrameRate": "fast"}], "Cameras[0].FrameRate = 'fast'"),
    ([{"CameraId": "a", "Source": "ftp://cam/video"}],
     "Cameras[0].Source = 'ftp://cam/video' (allowed: a camera number (0), a device path"),
    ([{"CameraId": "a", "Source": "videos/relative.mp4"}], "Cameras[0].Source = 'videos/relative.mp4'"),
    ([{"CameraId": "a", "Source": "ftp://admin:s3cret@cam/video"}], "Cameras[0].Source = 'ftp://cam/video'"),
    ([{"CameraId": "a", "Source": ["0"]}], "Cameras[0].Source = ['0'] (allowed: a camera number (0)"),
    ([{"CameraId": "a", "Source": ["rtsp://admin:s3cret@cam/s"]}],
     "Cameras[0].Source = ['rtsp://cam/s'] (allowed: a camera number (0)"),
    ([{"CameraId": "a", "Source": {"url": "rtsp://cam/s", "password": "s3cret"}}],
     "Cameras[0].Source = {'url': 'rtsp://cam/s', 'password': '***'} (allowed: a camera number (0)"),
    ([{"CameraId": "a", "Source": "rtsp:/admin:s3cret@cam/s"}], "Cameras[0].Source = 'rtsp:/cam/s'"),
    ([{"CameraId": "a", "Source": "ftp://admin:s3c@ret@cam/video"}], "Cameras[0].Source = 'ftp://cam/video'"),
    ([{"CameraId": "rtsp://admin:s3cret@cam/s", "Source": "0"}], "Cameras[0].CameraId = 'rtsp://cam/s'"),
    ([["rtsp://admin:s3cret@cam/s"]], "Cameras[0] = ['rtsp://cam/s'] (allowed: an object with CameraId"),
    ({"CameraId": "a", "Source": "rtsp://admin:s3cret@cam/s"},
     "Cameras = {'CameraId': 'a', 'Source': 'rtsp://cam/s'} (allowed: a list of 1 to 32 objects"),
    (["rtsp://admin:s3cret@cam/s"],
     "Cameras[0] = 'rtsp://cam/s' (allowed: an object with CameraId and Source)"),
    ("rtsp://admin:s3cret@cam/s", "Cameras = 'rtsp://cam/s' (allowed: a list of 1 to 32 objects"),
    ([{"CameraId": "a b", "Source": "0"}], "Cameras[0].CameraId = 'a b'"),
    ([{"Source": "0"}], "Cameras[0].CameraId = <missing> (allowed: required;"),
    ([{"CameraId": "a", "Source": "0", "Transport": "udp"}],
     "Cameras[0].Transport = 'udp' (allowed: one of shm, jpeg)"),
    ([], "Cameras = [] (allowed: a list of 1 to 32 items)"),
    ([{"CameraId": "a", "Source": "0", "DeviceFormat": "MJPEG"}], "Cameras[0].DeviceFormat = 'MJPEG'"),
])
def test_invalid_cameras_are_one_clear_message(cameras, message):
    with pytest.raises(ConfigError) as raised:
        parse_config(CaptureSettings, settings_with(Cameras=cameras))
    assert str(raised.value).startswith("Invalid configuration: " + message)
    assert "s3cret" not in str(raised.value)  # an invalid source is shown without its credentials


@pytest.mark.parametrize("key, value", [("FrameRate", 5000), ("FrameRate", None), ("PlaybackSpeed", "fast"),
                                        ("RingSlots", 1), ("RingFolder", "relative"),
                                        ("FramesTopic", "ggvision/cameras/+/frames"),
                                        ("StatusTopic", "ggvision/{Camera}/status")])
def test_invalid_component_keys_name_the_key(key, value):
    with pytest.raises(ConfigError, match=f"^Invalid configuration: {key} = "):
        parse_config(CaptureSettings, settings_with(**{key: value}))


# ---------------------------------------------------------------- source kinds

@pytest.mark.parametrize("source, kind", [
    ("0", DEVICE), ("12", DEVICE), ("/dev/video2", DEVICE), ("/dev/v4l/by-id/usb-cam-video-index0", DEVICE),
    ("rtsp://cam/stream", RTSP), ("RTSPS://cam/s", RTSP),
    ("http://cam/mjpg", MJPEG), ("https://cam/x", MJPEG),
    ("/videos/a.mp4", PATH), ("/images/", PATH),
])
def test_source_kind_from_the_text(source, kind):
    assert source_kind(source) == kind


def test_paths_become_a_folder_or_a_file_when_opened(tmp_path):
    assert isinstance(make_source(str(tmp_path), False, 5, "tcp"), ImageFolderSource)
    assert isinstance(make_source(str(tmp_path / "a.mp4"), False, 5, "tcp"), VideoFileSource)


def test_missing_or_empty_sources_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="no video file"):
        make_source(str(tmp_path / "absent.avi"), False, 5, "tcp").open()
    with pytest.raises(SourceError, match="no images"):
        make_source(str(tmp_path), False, 5, "tcp").open()
    (tmp_path / "junk.png").write_bytes(b"not a png")
    folder = make_source(str(tmp_path), False, 5, "tcp")
    folder.open()
    with pytest.raises(SourceError, match="could be read"):
        folder.read()


# ---------------------------------------------------------------- newest frame wins

def test_latest_frame_keeps_only_the_newest_and_counts_the_rest():
    latest = LatestFrame()
    for index in range(5):
        latest.put(Frame(helpers.solid(index), float(index)))
    frame = latest.take(0.0)
    assert frame.captured_at == 4.0 and latest.dropped == 4
    assert latest.take(0.0) is None
    assert latest.wait_taken(0.0)
    latest.put(Frame(helpers.solid(5), 5.0))
    assert not latest.wait_taken(0.0)


# ---------------------------------------------------------------- downscale

def test_downscale_keeps_the_aspect_and_never_upscales():
    assert fitted_size(1920, 1080, 640, 0) == (640, 360)
    assert fitted_size(1920, 1080, 0, 360) == (640, 360)
    assert fitted_size(1920, 1080, 1000, 360) == (640, 360)
    assert fitted_size(320, 240, 640, 480) == (320, 240)
    assert fit_within(np.zeros((100, 200, 3), np.uint8), 50, 0).shape == (25, 50, 3)


# ---------------------------------------------------------------- the MJPEG reader

def test_mjpeg_url_credentials_go_to_the_auth_handler_not_the_wire():
    assert split_credentials("http://user:p%40ss@cam:8080/v?x=1") == ("http://cam:8080/v?x=1", "user", "p@ss")
    assert split_credentials("http://cam/v") == ("http://cam/v", None, None)
    assert boundary_of('multipart/x-mixed-replace; boundary="--frame"') == b"--frame"
    assert boundary_of("multipart/x-mixed-replace") is None


@pytest.mark.parametrize("path", ["/stream", "/bare", "/snapshot.jpg"])
def test_mjpeg_reader_decodes_streams_with_and_without_length_and_snapshots(path):
    camera = helpers.MjpegCamera(fps=100, credentials="viewer:s3cret").start()
    source = MjpegSource(camera.url(path), timeout_s=5)
    try:
        source.open()
        indexes = [helpers.index_of(source.read()) for _ in range(4)]
        assert indexes == sorted(indexes) and len(set(indexes)) == 4
        assert source.polled == (path == "/snapshot.jpg")
    finally:
        source.close()
        camera.stop()


def test_mjpeg_wrong_password_is_a_clear_error_without_the_password():
    camera = helpers.MjpegCamera(credentials="viewer:s3cret").start()
    try:
        url = camera.url().replace("s3cret", "wrong")
        with pytest.raises(SourceError) as raised:
            MjpegSource(url, timeout_s=5).open()
        assert "HTTP 401" in str(raised.value) and "user name and password" in str(raised.value)
        assert "wrong" not in str(raised.value) and "viewer" not in str(raised.value)
    finally:
        camera.stop()


# ---------------------------------------------------------------- OpenCV-backed live sources

def test_absent_device_is_a_clear_source_error():
    with pytest.raises(SourceError, match=r"no camera at /dev/video99 \(is it connected\?\)"):
        make_source("99", False, 5, "tcp").open()


def test_unreachable_rtsp_camera_is_a_source_error_without_its_password():
    source = make_source("rtsp://admin:s3cret@127.0.0.1:9/stream", False, 2, "tcp")
    with pytest.raises(SourceError) as raised:
        source.open()
    assert str(raised.value) == "cannot open rtsp://127.0.0.1:9/stream"
    source.close()


def test_ring_folder_that_can_never_be_created_stops_the_service_at_start(tmp_path):
    (tmp_path / "a-file").write_text("")
    settings = parse_config(CaptureSettings, settings_with(
        Cameras=[{"CameraId": "a", "Source": "0"}], RingFolder=str(tmp_path / "a-file" / "rings")))
    with pytest.raises(ServiceError, match=r"^RingFolder .*/a-file/rings: .*/a-file is not a folder$"):
        CaptureService(settings, ipc=None).start()


# ---------------------------------------------------------------- the recipe

def test_recipe_defaults_are_exactly_the_settings_keys():
    keys = {f.metadata["key"] for f in dataclasses.fields(CaptureSettings)}
    assert set(helpers.recipe_configuration()) == keys | {"accessControl"}


def test_recipe_policy_is_least_privilege():
    # Manifests, interpreter and privilege of every recipe: tests/packaging/test_recipes_on_a_device.py.
    from local_nucleus.authorization import compile_resource

    policies = helpers.recipe_configuration()["accessControl"]
    assert list(policies) == ["aws.greengrass.ipc.pubsub"]
    (policy,) = policies["aws.greengrass.ipc.pubsub"].values()
    assert policy["operations"] == ["aws.greengrass#PublishToTopic"]
    patterns = [compile_resource(resource, False) for resource in policy["resources"]]

    def allowed(topic):
        return any(pattern.fullmatch(topic) for pattern in patterns)

    assert allowed("ggvision/cameras/camera0/frames") and allowed("ggvision/cameras/new-cam/status")
    assert not allowed("ggvision/detections/camera0") and not allowed("ggvision/cameras/camera0/other")


def test_mjpeg_stream_that_stalls_times_out_and_a_blocked_read_can_be_aborted():
    camera = helpers.MjpegCamera().start()
    try:
        source = MjpegSource(camera.url("/stall"), timeout_s=0.5)
        source.open()
        with pytest.raises(SourceError, match=r"no data for 0.5 s"):
            source.read()
        source.close()

        # What a stop does: abort() from another thread wakes a read blocked for up to 60 s.
        source = MjpegSource(camera.url("/stall"), timeout_s=60)
        source.open()
        errors = []
        reader = threading.Thread(target=lambda: errors.append(pytest.raises(SourceError, source.read)))
        reader.start()
        time.sleep(0.3)  # let it block in the read
        source.abort()
        reader.join(helpers.WAIT)
        source.close()
        assert not reader.is_alive() and errors
    finally:
        camera.stop()


def test_replaced_and_published_frames_give_their_buffers_back_for_the_next_decode():
    latest = LatestFrame()
    first, second, third = (np.zeros((4, 4, 3), np.uint8) for _ in range(3))
    assert latest.spare() is None
    latest.put(Frame(first, 0.0))
    latest.put(Frame(second, 0.0))  # `first` replaced before it was taken: its buffer is free
    assert latest.spare() is first
    taken = latest.take(0.1)
    assert taken.image is second and latest.spare() is None  # the announcer still has it
    latest.recycle(taken.image)
    latest.recycle(third)
    latest.recycle(np.zeros((4, 4, 3), np.uint8))  # more than SPARE_BUFFERS: not kept
    assert {id(latest.spare()), id(latest.spare())} == {id(second), id(third)}
    assert latest.spare() is None
