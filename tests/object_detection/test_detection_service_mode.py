"""Service mode end to end: requests over the local nucleus to the ObjectDetection service (in this
process, on its own real IPC connection with the recipe's access policy), answered with detections
from the real ONNX Runtime — and every malformed or hostile request answered with its error code, on
its reply topic or, when it has none the service may use, on the errors topic. The service keeps
serving throughout.
"""

import base64
import os
import struct
import time
import uuid
import zlib

import cv2
import numpy as np
import pytest
from detection_helpers import (
    assert_expected,
    example_image,
    model_folder,
    next_valid,
    recipe_policy,
    running_service,
    settings,
)
from ggvision.contracts import validate
from ggvision.frames import FrameRing
from ggvision.inference import ErrorCode, InferenceClient, InferenceError
from ggvision.inference.protocol import build_request
from harness import connect, local_nucleus, pubsub_policy

REQUESTS = "ggvision/inference/detector/request"
REPLY_PREFIX = "ggvision/inference/detector/reply/"
REPLIES = REPLY_PREFIX + "client-1"
ERRORS = "ggvision/inference/detector/errors"
MAX_REQUEST_BYTES = 200_000
RESPONSE = "ggvision.inference-response/1"


def jpeg_bytes(image=None, quality=90):
    ok, data = cv2.imencode(".jpg", example_image() if image is None else image,
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def png_bytes(image=None):
    ok, data = cv2.imencode(".png", example_image() if image is None else image)
    assert ok
    return data.tobytes()


def png_header_only(width, height):
    """A PNG that is nothing but a valid signature and IHDR declaring width×height (and an IEND)."""
    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) \
        + chunk(b"IEND", b"")


def jpeg_with_size(width, height):
    """A small valid JPEG whose frame header (SOF0) was rewritten to declare width×height."""
    data = bytearray(jpeg_bytes(np.zeros((16, 16, 3), np.uint8)))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def b64(data):
    return base64.b64encode(data).decode("ascii")


class Context:
    """What the hostile-request builders need: a ring in the service's folder and one outside it."""

    def __init__(self, ring_folder, outside_folder):
        self.ring = FrameRing.create(ring_folder, "svc", 640, 480, slots=2)
        self.outside = FrameRing.create(outside_folder, "elsewhere", 640, 480, slots=2)
        self.ring_folder = ring_folder

    def frame(self, ring=None, image=None):
        from ggvision.frames import frame_event

        ring = ring or self.ring
        written = ring.write(example_image() if image is None else image, time.time())
        return frame_event(ring.camera_id, written.seq, time.time(), 640, 480, "bgr24", shm=written)

    def stale_frame(self):
        event = self.frame()
        for _ in range(self.ring.slots):  # lap the ring: the slot now holds a newer frame
            self.ring.write(example_image(), time.time())
        return event

    def close(self):
        self.ring.close()
        self.outside.close()


def valid(request_id, changes=None):
    message = build_request(request_id, REPLIES, "image/jpeg", jpeg_bytes())
    message.update(changes or {})
    return {k: v for k, v in message.items() if v is not None}


def without(key):
    def build(ctx, request_id):
        message = valid(request_id)
        del message[key]
        return message
    return build


def changed(**changes):
    return lambda ctx, request_id: valid(request_id, changes)


def with_body(content_type, data):
    return lambda ctx, request_id: valid(request_id, {"content_type": content_type, "body": b64(data)})


def with_frame(make_frame):
    def build(ctx, request_id):
        message = valid(request_id, {"frame": make_frame(ctx)})
        del message["content_type"], message["body"]
        return message
    return build


def outside_path(ctx):
    event = ctx.frame(ctx.outside)
    return event


def dotdot_path(ctx):
    event = ctx.frame(ctx.outside)
    event["shm"]["path"] = os.path.join(ctx.ring_folder, "..", os.path.basename(os.path.dirname(
        ctx.outside.path)), os.path.basename(ctx.outside.path))
    return event


def symlink_path(ctx):
    link = os.path.join(ctx.ring_folder, "sneaky.ring")
    if not os.path.islink(link):
        os.symlink(ctx.outside.path, link)
    event = ctx.frame(ctx.outside)
    event["shm"]["path"] = link
    return event


def missing_ring(ctx):
    event = ctx.frame()
    event["shm"]["path"] = os.path.join(ctx.ring_folder, "nobody.ring")
    return event


def wrong_geometry(ctx):
    event = ctx.frame()
    event["width"], event["height"] = 320, 240
    return event


def both_body_and_frame(ctx, request_id):
    return valid(request_id, {"frame": ctx.frame()})


REPLY, ERRORS_TOPIC = "reply", "errors"
SAME_ID, NO_ID = "same", ""

# request → (where the answer goes, the request_id it carries, the code). Each builder gets the
# context and a fresh request id; a builder may return bytes (sent as a binary message).
HOSTILE = {
    # not a request at all
    "binary message": (lambda ctx, rid: b"\x00\x01 binary, not JSON", ERRORS_TOPIC, NO_ID,
                       ErrorCode.INVALID_REQUEST),
    "a frame event, not a request": (lambda ctx, rid: ctx.frame(), ERRORS_TOPIC, NO_ID,
                                     ErrorCode.INVALID_REQUEST),
    "empty object": (lambda ctx, rid: {}, ERRORS_TOPIC, NO_ID, ErrorCode.INVALID_REQUEST),
    # identity and reply topic
    "missing request_id": (without("request_id"), REPLY, NO_ID, ErrorCode.INVALID_REQUEST),
    "request_id is a number": (changed(request_id=42), REPLY, NO_ID, ErrorCode.INVALID_REQUEST),
    "request_id too long": (lambda ctx, rid: valid(rid + "x" * 200), REPLY, "truncated",
                            ErrorCode.INVALID_REQUEST),
    "missing reply_topic": (without("reply_topic"), ERRORS_TOPIC, SAME_ID, ErrorCode.INVALID_REQUEST),
    "reply_topic is a number": (changed(reply_topic=7), ERRORS_TOPIC, SAME_ID, ErrorCode.INVALID_REQUEST),
    "reply_topic outside the prefix": (changed(reply_topic="ggvision/detections/cam1"), ERRORS_TOPIC, SAME_ID,
                                       ErrorCode.INVALID_REQUEST),
    "reply_topic is the bare prefix": (changed(reply_topic=REPLY_PREFIX), ERRORS_TOPIC, SAME_ID,
                                       ErrorCode.INVALID_REQUEST),
    "reply_topic with +": (changed(reply_topic=REPLY_PREFIX + "+"), ERRORS_TOPIC, SAME_ID,
                           ErrorCode.INVALID_REQUEST),
    "reply_topic with #": (changed(reply_topic=REPLY_PREFIX + "a/#"), ERRORS_TOPIC, SAME_ID,
                           ErrorCode.INVALID_REQUEST),
    "reply_topic with *": (changed(reply_topic=REPLY_PREFIX + "*"), ERRORS_TOPIC, SAME_ID,
                           ErrorCode.INVALID_REQUEST),
    # wrong types and values of the other fields
    "schema of another kind": (changed(schema="ggvision.frame/1"), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "ts is text": (changed(ts="yesterday"), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "content_type is a number": (changed(content_type=5), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "body is a number": (changed(body=12345), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "body is empty": (changed(body=""), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "frame is text": (changed(frame="slot 1"), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "score_threshold is text": (changed(score_threshold="high"), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "score_threshold above 1": (changed(score_threshold=1.5), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "score_threshold below 0": (changed(score_threshold=-0.1), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "max_detections 0": (changed(max_detections=0), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "max_detections is fractional": (changed(max_detections=2.5), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "unknown extra field": (changed(callback="os.system('x')"), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "neither body nor frame": (lambda ctx, rid: {k: v for k, v in valid(rid).items()
                                                 if k not in ("body", "content_type")},
                               REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "both body and frame": (both_body_and_frame, REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    # the image
    "body not base64": (changed(body="!!! not base64 !!!"), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "unknown content type": (with_body("image/gif", b"GIF89a\x01\x00\x01\x00"), REPLY, SAME_ID,
                             ErrorCode.UNSUPPORTED_CONTENT_TYPE),
    "non-image bytes": (with_body("image/jpeg", b"hello, this is not an image " * 10), REPLY, SAME_ID,
                        ErrorCode.DECODE_FAILED),
    "PNG sent as JPEG": (with_body("image/jpeg", png_bytes()), REPLY, SAME_ID, ErrorCode.DECODE_FAILED),
    "JPEG sent as PNG": (with_body("image/png", jpeg_bytes()), REPLY, SAME_ID, ErrorCode.DECODE_FAILED),
    "truncated JPEG": (with_body("image/jpeg", jpeg_bytes()[:len(jpeg_bytes()) // 2]), REPLY, SAME_ID,
                       ErrorCode.DECODE_FAILED),
    "truncated PNG": (with_body("image/png", png_bytes()[:len(png_bytes()) // 2]), REPLY, SAME_ID,
                      ErrorCode.DECODE_FAILED),
    "PNG header 20000x20000": (with_body("image/png", png_header_only(20000, 20000)), REPLY, SAME_ID,
                               ErrorCode.IMAGE_TOO_LARGE),
    "PNG header 0x0": (with_body("image/png", png_header_only(0, 0)), REPLY, SAME_ID,
                       ErrorCode.DECODE_FAILED),
    "JPEG frame header 65000x65000": (with_body("image/jpeg", jpeg_with_size(65000, 65000)), REPLY, SAME_ID,
                                      ErrorCode.IMAGE_TOO_LARGE),
    "body over MaxRequestBytes": (with_body("image/jpeg", b"\xff\xd8\xff" + os.urandom(MAX_REQUEST_BYTES)),
                                  REPLY, SAME_ID, ErrorCode.IMAGE_TOO_LARGE),
    # frame references
    "frame in a lapped slot": (with_frame(Context.stale_frame), REPLY, SAME_ID, ErrorCode.FRAME_UNAVAILABLE),
    "frame ring that does not exist": (with_frame(missing_ring), REPLY, SAME_ID, ErrorCode.FRAME_UNAVAILABLE),
    "frame ring outside RingFolder": (with_frame(outside_path), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "frame path escaping with ..": (with_frame(dotdot_path), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "frame path through a symlink": (with_frame(symlink_path), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
    "frame geometry not the ring's": (with_frame(wrong_geometry), REPLY, SAME_ID, ErrorCode.INVALID_REQUEST),
}


@pytest.fixture(scope="module")
def service_mode(tmp_path_factory):
    base = tmp_path_factory.mktemp("service-mode")
    model = model_folder(str(base), "gluoncv")
    ring_folder = str(base / "rings")
    context = Context(ring_folder, str(base / "outside"))
    configuration = settings(ModelPath=model, RingFolder=ring_folder, CountsIntervalSeconds=0,
                             MaxRequestBytes=MAX_REQUEST_BYTES)
    with local_nucleus() as nucleus, running_service(nucleus, configuration) as service:
        client = connect(nucleus, "test.Client",
                         pubsub_policy(publish=[REQUESTS], subscribe=[REPLIES, ERRORS]))
        replies, errors = client.subscribe(REPLIES, 256), client.subscribe(ERRORS, 256)
        try:
            yield {"nucleus": nucleus, "service": service, "client": client, "replies": replies,
                   "errors": errors, "context": context}
        finally:
            client.close()
            context.close()


def probe(env):
    """A valid request; its answer must be the next message on the reply topic."""
    request_id = "probe-" + uuid.uuid4().hex
    env["client"].publish_json(REQUESTS, valid(request_id))
    answer = next_valid(env["replies"], RESPONSE)
    assert answer["request_id"] == request_id, answer
    assert_expected(answer["prediction"])


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_request_gets_its_error_code_and_the_service_keeps_serving(service_mode, case):
    build, where, expected_id, code = HOSTILE[case]
    request_id = "hostile-" + uuid.uuid4().hex
    message = build(service_mode["context"], request_id)
    if isinstance(message, bytes):
        service_mode["client"].publish_binary(REQUESTS, message)
    else:
        service_mode["client"].publish_json(REQUESTS, message)
    subscription = service_mode["replies"] if where == REPLY else service_mode["errors"]
    answer = next_valid(subscription, RESPONSE)
    assert "prediction" not in answer
    assert answer["error"]["code"] == code, answer
    assert answer["error"]["message"]
    if expected_id == SAME_ID:
        assert answer["request_id"] == request_id
    elif expected_id == "truncated":
        assert answer["request_id"] == (request_id + "x" * 200)[:128]
    else:
        assert answer["request_id"] == ""
    # Exactly one answer: the probe's reply is the next message on the reply topic, and nothing more
    # arrived on the errors topic. And the service still answers a valid request.
    probe(service_mode)
    assert service_mode["errors"].get_nowait() is None
    assert service_mode["service"]._worker.is_alive()


def test_at_least_25_hostile_kinds_are_covered():
    assert len(HOSTILE) >= 25


def test_jpeg_and_png_requests_through_the_inference_client(service_mode):
    nucleus = service_mode["nucleus"]
    ipc = connect(nucleus, "test.SdkClient", pubsub_policy(
        publish=[REQUESTS], subscribe=[REPLY_PREFIX + "sdk-client", ERRORS]))
    with InferenceClient("detector", ipc=ipc, client_name="sdk-client") as client:
        for content_type, body in (("image/jpeg", jpeg_bytes()), ("image/png", png_bytes())):
            result = client.invoke(content_type=content_type, body=body, timeout=30)
            validate(result, RESPONSE)
            assert_expected(result["prediction"])
            assert result["labels"] == {"0": "red", "2": "blue"}
            assert (result["width"], result["height"]) == (640, 480)
            assert result["model"] == {"name": "colour-grid-gluoncv", "version": "2", "runtime": "onnx"}
            assert result["inference_ms"] > 0
        # Per-request threshold and cap; the v1 call shape.
        best = client.invoke(content_type="image/png", body=png_bytes(), max_detections=1, timeout=30)
        assert len(best["prediction"]) == 1 and best["prediction"][0][0] in (0, 2)
        none = client.invoke(content_type="image/png", body=png_bytes(), score_threshold=0.999, timeout=30)
        assert none["prediction"] == [] and none["labels"] == {}
        import json
        v1 = client.invoke_inference_service(AlgoType="object-detection", ServiceName="detector",
                                             ContentType="image/jpeg", Body=jpeg_bytes(), timeout=30)
        assert_expected(json.loads(v1["Body"].read())["prediction"])
        # A grey and an RGBA PNG are answered like a colour one.
        grey = client.invoke(content_type="image/png", body=png_bytes(np.full((60, 80), 128, np.uint8)),
                             timeout=30)
        assert grey["prediction"] == [] and (grey["width"], grey["height"]) == (80, 60)
        rgba = cv2.cvtColor(example_image(), cv2.COLOR_BGR2BGRA)
        result = client.invoke(content_type="image/png", body=png_bytes(rgba), timeout=30)
        assert_expected(result["prediction"])
        with pytest.raises(InferenceError) as raised:
            client.invoke(content_type="image/png", body=b"not a png", timeout=30)
        assert raised.value.code == ErrorCode.DECODE_FAILED
        # A frame event instead of an image: pixels from shared memory, no JPEG round trip.
        assert_expected(client.invoke(frame=service_mode["context"].frame(), timeout=30)["prediction"])
        with pytest.raises(InferenceError) as raised:
            client.invoke(frame=service_mode["context"].stale_frame(), timeout=30)
        assert raised.value.code == ErrorCode.FRAME_UNAVAILABLE
    ipc.close()


def test_a_frame_reference_is_answered_from_shared_memory(service_mode):
    context = service_mode["context"]
    request = build_request("by-frame", REPLIES, frame=context.frame())
    service_mode["client"].publish_json(REQUESTS, request)
    answer = next_valid(service_mode["replies"], RESPONSE)
    assert answer["request_id"] == "by-frame"
    assert_expected(answer["prediction"])


def test_raw_publishes_of_valid_jpeg_and_png(service_mode):
    for content_type, body in (("image/jpeg", jpeg_bytes(quality=70)), ("image/png", png_bytes())):
        request_id = "raw-" + content_type
        service_mode["client"].publish_json(REQUESTS, build_request(request_id, REPLIES, content_type, body))
        answer = next_valid(service_mode["replies"], RESPONSE)
        assert answer["request_id"] == request_id
        assert_expected(answer["prediction"])


def test_reply_topic_the_service_may_not_publish_to_is_answered_on_the_errors_topic(tmp_path):
    """An operator narrowed the service's reply grant to `reply/app-*`: a request asking for an answer
    on reply/other is answered on the errors topic, saying so."""
    policy = recipe_policy()
    publish = policy["accessControl"]["aws.greengrass.ipc.pubsub"]["ggvision.ObjectDetection:pubsub:2"]
    publish["resources"] = [REPLY_PREFIX + "app-*" if r == REPLY_PREFIX + "*" else r
                            for r in publish["resources"]]
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=str(tmp_path),
                             CountsIntervalSeconds=0, FrameTopics=[])
    with local_nucleus() as nucleus, running_service(nucleus, configuration, policy):
        client = connect(nucleus, "test.Client", pubsub_policy(
            publish=[REQUESTS], subscribe=[REPLY_PREFIX + "*", ERRORS]))
        allowed, other = client.subscribe(REPLY_PREFIX + "app-1"), client.subscribe(REPLY_PREFIX + "other")
        errors = client.subscribe(ERRORS)
        try:
            client.publish_json(REQUESTS, build_request("denied", REPLY_PREFIX + "other", "image/png",
                                                        png_bytes()))
            answer = next_valid(errors, RESPONSE)
            assert answer["request_id"] == "denied"
            assert answer["error"]["code"] == ErrorCode.INVALID_REQUEST
            assert REPLY_PREFIX + "other" in answer["error"]["message"]
            client.publish_json(REQUESTS, build_request("ok", REPLY_PREFIX + "app-1", "image/png",
                                                        png_bytes()))
            assert_expected(next_valid(allowed, RESPONSE)["prediction"])
            assert other.get_nowait() is None
        finally:
            client.close()


def test_queue_overflow_is_busy_and_a_request_that_waited_too_long_is_timeout(tmp_path):
    """A slow model (about half a second per image): while it works on the first request, a burst
    arrives. RequestQueueSize 2 keeps at most two (answered TIMEOUT: they waited over
    RequestTimeoutSeconds), the rest are answered BUSY at once; then the service answers normally."""
    model = model_folder(str(tmp_path), "gluoncv", slow_matmuls=60)
    configuration = settings(ModelPath=model, RingFolder=str(tmp_path), CountsIntervalSeconds=0,
                             FrameTopics=[], RequestQueueSize=2, RequestTimeoutSeconds=0.1,
                             InferenceThreads=1)
    with local_nucleus() as nucleus, running_service(nucleus, configuration):
        client = connect(nucleus, "test.Client", pubsub_policy(publish=[REQUESTS], subscribe=[REPLIES]))
        replies = client.subscribe(REPLIES, 256)
        try:
            client.publish_json(REQUESTS, build_request("first", REPLIES, "image/png", png_bytes()))
            burst = [f"burst-{i}" for i in range(12)]
            for request_id in burst:
                request = build_request(request_id, REPLIES, "image/png", png_bytes())
                client.publish_json_async(REQUESTS, request)
            answers = {}
            while len(answers) < 1 + len(burst):
                answer = next_valid(replies, RESPONSE, timeout=60)
                answers[answer["request_id"]] = answer
            assert_expected(answers["first"]["prediction"])
            codes = [answers[r].get("error", {}).get("code") for r in burst]
            # Two places in the queue: two TIMEOUT (one when the worker took the first request in the
            # same drain as the burst's head, so that it shared the queue with it), the rest BUSY.
            assert set(codes) == {ErrorCode.BUSY, ErrorCode.TIMEOUT}, codes
            assert codes.count(ErrorCode.TIMEOUT) in (1, 2), codes
            # Afterwards the service answers normally.
            client.publish_json(REQUESTS, build_request("after", REPLIES, "image/png", png_bytes()))
            assert_expected(next_valid(replies, RESPONSE, timeout=60)["prediction"])
        finally:
            client.close()


def test_a_huge_jpeg_is_answered_with_its_own_size_and_the_same_detections(service_mode):
    # Decoded at a reduced scale for the 512x512 model (tests/detection/test_decode_memory.py measures
    # the memory); the answer still describes the 3200x2400 image the caller sent.
    nucleus = service_mode["nucleus"]
    big = cv2.resize(example_image(), (3200, 2400), interpolation=cv2.INTER_NEAREST)
    ipc = connect(nucleus, "test.BigClient", pubsub_policy(
        publish=[REQUESTS], subscribe=[REPLY_PREFIX + "big-client", ERRORS]))
    with InferenceClient("detector", ipc=ipc, client_name="big-client") as client:
        body = jpeg_bytes(big, quality=20)  # flat colours: small enough for this service's byte limit
        assert len(body) < MAX_REQUEST_BYTES
        result = client.invoke(content_type="image/jpeg", body=body, timeout=30)
    ipc.close()
    assert (result["width"], result["height"]) == (3200, 2400)  # decoded at 1/4: 800x600
    assert_expected(result["prediction"])
