"""`ggvision.features/1`: every message the builder makes follows the schema; malformed ones do not."""

import numpy as np
import pytest
from ggvision.contracts import ContractError, validate
from ggvision.features import ENCODINGS, BoxSource, message, message_vector

MODEL = {"name": "mobilenetv2-features", "version": "1", "runtime": "onnx"}
BOX = BoxSource(box=[0.1, 0.2, 0.5, 0.9], class_id=2, score=0.87, label="car")


def vector(dim=576):
    values = np.random.default_rng(1).normal(size=dim).astype(np.float32)
    return values / np.linalg.norm(values)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("source", [None, BOX, BoxSource([0, 0, 1, 1], 0, 1.0)])
def test_built_messages_validate_and_read_back(encoding, source):
    features = message(vector(), "front", 42, 1763860000.5, MODEL, source=source, encoding=encoding,
                       thing_name="gate-camera-01", ts=1763860000.9)
    validate(features)
    assert features["schema"] == "ggvision.features/1"
    assert (features["dim"], features["encoding"]) == (576, encoding)
    assert features["source"] == ("frame" if source is None else "box")
    assert ("features" in features) == (encoding == "csv") != ("vector" in features)
    tolerance = 1e-3 if encoding == "base64-float16" else 0
    np.testing.assert_allclose(message_vector(features), vector(), rtol=tolerance, atol=1e-7)


def test_box_source_carries_the_detection():
    features = message(vector(4), "front", 1, 1.0, MODEL, source=BOX, ts=2.0)
    assert features["detection"] == {"box": [0.1, 0.2, 0.5, 0.9], "class_id": 2, "label": "car",
                                     "score": 0.87}
    assert "label" not in message(vector(4), "front", 1, 1.0, MODEL, source=BoxSource([0, 0, 1, 1], 3, 0.5),
                                  ts=2.0)["detection"]


def test_csv_is_the_deeplens_shape():
    features = message(np.array([0.6, 0.8], np.float32), "front", 1, 1.0, MODEL, encoding="csv", ts=2.0)
    assert features["features"] == "0.6,0.8"
    assert [float(v) for v in features["features"].split(",")] == [0.6, 0.8]  # what a DeepLens Lambda does


FRAME = message(np.array([0.6, 0.8], np.float32), "front", 1, 1.0, MODEL, ts=2.0)
BOXED = message(np.array([0.6, 0.8], np.float32), "front", 1, 1.0, MODEL, source=BOX, ts=2.0)


@pytest.mark.parametrize("base, change, drop, path", [
    (FRAME, {"source": "crop"}, (), "/source"),
    (FRAME, {"encoding": "float16"}, (), "/encoding"),
    (FRAME, {"camera_id": "front\n"}, (), "/camera_id"),
    (FRAME, {"dim": 0}, (), "/dim"),
    (FRAME, {"extra": 1}, (), "/"),
    (FRAME, {}, ("vector",), "/"),
    (FRAME, {"vector": [0.6, 0.8]}, (), "/vector"),               # base64 encodings carry a string
    (FRAME, {"vector": "AD g="}, (), "/vector"),                  # not base64
    (FRAME, {"encoding": "json"}, (), "/vector"),                  # json carries a list
    (FRAME, {"encoding": "csv"}, (), "/"),                         # csv carries `features`, not `vector`
    (FRAME, {"features": "0.6,0.8"}, (), "/"),                     # both
    (FRAME, {"detection": BOX.to_json()}, (), "/"),                # a frame has no detection
    (BOXED, {}, ("detection",), "/"),                              # a box has one
    (BOXED, {"detection": dict(BOX.to_json(), box=[0, 0, 2, 1])}, (), "/detection/box/2"),
    (BOXED, {"detection": dict(BOX.to_json(), score=1.5)}, (), "/detection/score"),
    (BOXED, {"detection": dict(BOX.to_json(), track=1)}, (), "/detection"),
])
def test_invalid_messages_are_refused(base, change, drop, path):
    bad = dict(base, **change)
    for key in drop:
        del bad[key]
    with pytest.raises(ContractError) as raised:
        validate(bad)
    assert raised.value.path == path
    assert "ggvision.features/1" in str(raised.value)


def test_csv_features_field_must_be_numbers():
    features = message(np.array([0.6, 0.8], np.float32), "front", 1, 1.0, MODEL, encoding="csv", ts=2.0)
    with pytest.raises(ContractError):
        validate(dict(features, features="0.6;0.8"))


def test_message_vector_checks_dim():
    with pytest.raises(ValueError, match="the vector has 2 values, but the message's dim is 3"):
        message_vector(dict(FRAME, dim=3))
