"""The jpeg frame transport: encode/decode, the size check before decoding, and jpeg frame events."""

import base64
import json

import cv2
import numpy as np
import pytest
from ggvision.contracts import ContractError, validate
from ggvision.frames import FrameReader, decode_jpeg, encode_jpeg, frame_event
from ggvision.frames.jpeg import jpeg_size


def gradient(height=120, width=160):
    y, x = np.mgrid[0:height, 0:width]
    planes = [x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)]
    return np.dstack(planes).astype(np.uint8)


def test_round_trip_is_close_to_the_original():
    image = gradient()
    decoded = decode_jpeg(encode_jpeg(image, 90))
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - image).mean() < 2.0


def test_channel_order_follows_the_pixel_format():
    red_rgb = np.zeros((16, 16, 3), np.uint8)
    red_rgb[:, :, 0] = 255
    as_rgb = decode_jpeg(encode_jpeg(red_rgb, 95, pixel_format="rgb24"), pixel_format="rgb24")
    assert as_rgb[8, 8, 0] > 240 and as_rgb[8, 8, 2] < 15
    as_bgr = decode_jpeg(encode_jpeg(red_rgb, 95, pixel_format="rgb24"))
    assert as_bgr[8, 8, 2] > 240 and as_bgr[8, 8, 0] < 15
    gray = gradient()[:, :, 0]
    decoded = decode_jpeg(encode_jpeg(gray, 90), pixel_format="gray8")
    assert decoded.shape == gray.shape and np.abs(decoded.astype(int) - gray).mean() < 2.0


def test_the_size_is_read_from_the_header_before_decoding():
    data = base64.b64decode(encode_jpeg(gradient(30, 50), 80))
    assert jpeg_size(data) == (50, 30)
    with pytest.raises(ValueError, match="limit"):
        decode_jpeg(base64.b64encode(data).decode(), max_pixels=1000)
    # A header that lies about a huge size is refused without allocating it.
    index = data.index(b"\xff\xc0")
    huge = data[:index + 5] + (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big") + data[index + 9:]
    with pytest.raises(ValueError, match="limit"):
        decode_jpeg(base64.b64encode(huge).decode())
    with pytest.raises(ValueError, match="event says"):
        decode_jpeg(base64.b64encode(data).decode(), expected_size=(49, 30))


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"GIF89a....").decode(),
                                  base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF").decode(), ""])
def test_bad_jpeg_data_is_a_value_error(text):
    with pytest.raises(ValueError):
        decode_jpeg(text)


def test_a_truncated_jpeg_is_a_value_error():
    data = base64.b64decode(encode_jpeg(gradient(), 90))
    with pytest.raises(ValueError):
        decode_jpeg(base64.b64encode(data[:len(data) // 3]).decode())
    with pytest.raises(ValueError):
        decode_jpeg(base64.b64encode(data[:300]).decode())


def test_encode_refuses_bad_arguments():
    with pytest.raises(ValueError):
        encode_jpeg(gradient(), 0)
    with pytest.raises(ValueError):
        encode_jpeg(gradient().astype(np.float32), 90)


def test_jpeg_events_validate_and_read_back(tmp_path):
    image = gradient(72, 128)
    event = frame_event("front", 43, 1.5, 128, 72, "bgr24", jpeg_data=encode_jpeg(image, 90))
    validate(event)
    assert event["transport"] == "jpeg" and "shm" not in event
    raw = frame_event("front", 44, 1.5, 128, 72, "bgr24", jpeg_data=base64.b64decode(event["jpeg"]["data"]))
    assert raw["jpeg"] == event["jpeg"]  # raw bytes are base64-encoded for you
    with FrameReader(str(tmp_path)) as reader:
        decoded = reader.read(json.loads(json.dumps(event)))
        assert np.abs(decoded.astype(int) - image).mean() < 2.0
        with pytest.raises(ValueError):
            reader.read(dict(event, width=127))
        with pytest.raises(ValueError):
            reader.read(dict(event, jpeg={"data": 5}))


def test_frame_events_need_exactly_one_transport_and_follow_the_schema():
    with pytest.raises(ValueError):
        frame_event("cam", 1, 1.0, 2, 2, "bgr24")
    with pytest.raises(ValueError):
        frame_event("cam", 1, 1.0, 2, 2, "bgr24", shm={"path": "/x.ring", "slot": 0}, jpeg_data="abcd")
    with pytest.raises(ValueError):
        frame_event("cam", 1, 1.0, 2, 2, "bgr24", shm={"path": "/x.ring", "slot": "0"})
    event = frame_event("cam", 1, 1.0, 2, 2, "bgr24", shm={"path": "/dev/shm/ggvision/cam.ring", "slot": 1})
    validate(event)
    assert set(event) == {"schema", "ts", "camera_id", "seq", "captured_at", "width", "height",
                          "pixel_format", "transport", "shm"}
    with pytest.raises(ContractError):
        validate(frame_event("bad id!", 1, 1.0, 2, 2, "bgr24", shm={"path": "/x", "slot": 0}))


def test_cv2_decodes_what_we_encode_as_a_standard_jpeg():
    data = base64.b64decode(encode_jpeg(gradient(), 90))
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (120, 160, 3)
