"""The inference request protocol: untrusted requests map to one clear error code each."""

import base64

import pytest
from ggvision.contracts import validate
from ggvision.inference.protocol import (
    ErrorCode,
    InferenceError,
    build_request,
    error_response,
    parse_request,
    reply_topic_of,
    request_id_of,
    success_response,
)

PREFIX = "ggvision/inference/detector/reply/"
LIMIT = 1000


def request(**changes):
    message = build_request("r1", PREFIX + "me", "image/png", b"\x89PNG....")
    message.update(changes)
    return {k: v for k, v in message.items() if v is not None}


def code_of(message):
    with pytest.raises(InferenceError) as raised:
        parse_request(message, PREFIX, LIMIT)
    return raised.value.code


def test_valid_request_is_parsed_and_body_decoded():
    parsed = parse_request(request(), PREFIX, LIMIT)
    assert parsed.request_id == "r1" and parsed.body == b"\x89PNG...." and parsed.content_type == "image/png"


@pytest.mark.parametrize(
    "message, code",
    [
        ("not an object", ErrorCode.INVALID_REQUEST),
        ([1, 2], ErrorCode.INVALID_REQUEST),
        ({}, ErrorCode.INVALID_REQUEST),
        (request(request_id=None), ErrorCode.INVALID_REQUEST),
        (request(request_id=7), ErrorCode.INVALID_REQUEST),
        (request(schema="ggvision.inference-request/9"), ErrorCode.INVALID_REQUEST),
        (request(content_type="image/gif"), ErrorCode.UNSUPPORTED_CONTENT_TYPE),
        (request(content_type="text/plain"), ErrorCode.UNSUPPORTED_CONTENT_TYPE),
        (request(content_type=5), ErrorCode.INVALID_REQUEST),
        (request(content_type=["image/png"]), ErrorCode.INVALID_REQUEST),
        (request(body="!!!not base64!!!"), ErrorCode.INVALID_REQUEST),
        (request(body=12), ErrorCode.INVALID_REQUEST),
        (request(body="A" * 4000), ErrorCode.IMAGE_TOO_LARGE),
        (request(reply_topic="someone/elses/topic"), ErrorCode.INVALID_REQUEST),
        (request(reply_topic=PREFIX), ErrorCode.INVALID_REQUEST),
        (request(reply_topic=PREFIX + "+"), ErrorCode.INVALID_REQUEST),
        (request(reply_topic=PREFIX + "a/#"), ErrorCode.INVALID_REQUEST),
        (request(score_threshold=2), ErrorCode.INVALID_REQUEST),
        (request(max_detections=0), ErrorCode.INVALID_REQUEST),
        (request(extra="field"), ErrorCode.INVALID_REQUEST),
        (request(frame={"schema": "ggvision.frame/1"}), ErrorCode.INVALID_REQUEST),
    ],
)
def test_hostile_requests_get_the_right_code(message, code):
    assert code_of(message) == code


def test_oversized_body_is_refused_before_decoding():
    huge = base64.b64encode(b"\0" * (LIMIT + 10)).decode()
    assert code_of(request(body=huge)) == ErrorCode.IMAGE_TOO_LARGE


def test_error_replies_keep_the_request_id_when_there_is_one():
    assert request_id_of({"request_id": "abc"}) == "abc"
    assert request_id_of({"request_id": 5}) == "" and request_id_of("x") == ""
    assert reply_topic_of({"reply_topic": PREFIX + "me"}, PREFIX) == PREFIX + "me"
    assert reply_topic_of({"reply_topic": "elsewhere"}, PREFIX) is None


def test_responses_follow_the_contract():
    validate(error_response("r1", ErrorCode.BUSY, "queue full"))
    validate(success_response("r1", {"prediction": [[0, 0.9, 0.0, 0.0, 0.5, 0.5]], "labels": {"0": "red"},
                                     "width": 10, "height": 10, "model": {"name": "m", "version": "1"},
                                     "inference_ms": 1.5}))
