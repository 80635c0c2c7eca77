"""Message contracts: the schema files, the validation helper, and the examples in docs/messages.md."""

import json
import os
import re

import pytest
from ggvision.contracts import ContractError, known_schemas, schema_for, validate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "messages.md")


def doc_examples():
    with open(DOC) as f:
        text = f.read()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_every_schema_is_documented_with_a_valid_example():
    examples = doc_examples()
    for example in examples:
        validate(example)
    documented = {e["schema"] for e in examples}
    assert documented == set(known_schemas())


def test_design_message_kinds_all_have_schemas():
    expected = {"frame", "detections", "inference-request", "inference-response", "features",
                "feedback-request", "feedback-status", "feedback-prediction", "counts"}
    assert expected <= {name.split(".", 1)[1].split("/")[0] for name in known_schemas()}


FRAME = {"schema": "ggvision.frame/1", "ts": 1.0, "camera_id": "cam", "seq": 1, "captured_at": 1.0,
         "width": 4, "height": 2, "pixel_format": "bgr24", "transport": "shm",
         "shm": {"path": "/dev/shm/ggvision/cam.ring", "slot": 0}}


@pytest.mark.parametrize(
    "change, path",
    [
        ({"seq": -1}, "/seq"),
        ({"seq": "1"}, "/seq"),
        ({"camera_id": "a/b"}, "/camera_id"),
        # Matched whole: a `$` pattern lets "cam\n" through (it matches before a final newline).
        ({"camera_id": "cam\n"}, "/camera_id"),
        ({"transport": "carrier-pigeon"}, "/transport"),
        ({"unexpected": True}, "/"),
        ({"shm": None}, "/shm"),
    ],
)
def test_invalid_frame_events_name_the_failing_field(change, path):
    message = dict(FRAME, **change)
    with pytest.raises(ContractError) as raised:
        validate(message)
    assert raised.value.path == path
    assert "ggvision.frame/1" in str(raised.value)


def test_shm_transport_requires_its_reference():
    message = dict(FRAME)
    del message["shm"]
    with pytest.raises(ContractError):
        validate(message)


def test_validate_rejects_messages_without_a_known_schema():
    for bad in [[], "text", {"ts": 1}, {"schema": "other.kind/1"}, {"schema": "ggvision.nope/1"}]:
        with pytest.raises(ContractError):
            validate(bad)


def test_validate_checks_the_expected_schema_when_given():
    with pytest.raises(ContractError, match="expected"):
        validate(FRAME, schema="ggvision.detections/1")


def test_prediction_rows_keep_the_v1_layout():
    rows = schema_for("ggvision.detections/1")["definitions"]["prediction"]["items"]
    assert rows["minItems"] == rows["maxItems"] == 6


def test_error_messages_stay_short_for_huge_values():
    message = dict(FRAME, camera_id="x" * 100000)
    with pytest.raises(ContractError) as raised:
        validate(message)
    assert len(str(raised.value)) < 400


def test_cross_schema_references_resolve_without_network():
    request = {"schema": "ggvision.inference-request/1", "ts": 1.0, "request_id": "r",
               "reply_topic": "a/b", "frame": FRAME}
    validate(request)
    with pytest.raises(ContractError):
        validate(dict(request, frame=dict(FRAME, seq=-5)))
