"""IoT Core's 128 KB limit: a features message that fits is the bytes to send; one that does not is
refused naming its size, the limit, the dimension and an encoding that fits."""

import json

import numpy as np
import pytest
from ggvision.features import IOT_CORE_MAX_PAYLOAD, PayloadTooLarge, iot_payload, message

MODEL = {"name": "mobilenetv2-features", "version": "1"}


def vector(dim):
    values = np.random.default_rng(dim).normal(size=dim).astype(np.float32)
    return values / np.linalg.norm(values)


def build(dim, encoding):
    return message(vector(dim), "front", 1, 1.0, MODEL, encoding=encoding, ts=2.0)


def test_limit_is_iot_cores():
    assert IOT_CORE_MAX_PAYLOAD == 131072


@pytest.mark.parametrize("encoding", ["base64-float16", "base64-float32", "json", "csv"])
def test_a_576_vector_fits_in_every_encoding(encoding):
    features = build(576, encoding)
    payload = iot_payload(features)
    assert json.loads(payload) == features
    assert len(payload) < 10000


def test_too_large_json_is_refused_naming_an_encoding_that_fits():
    features = build(20000, "json")  # ~250 KB of text; base64-float16 is ~53 KB
    with pytest.raises(PayloadTooLarge) as raised:
        iot_payload(features)
    error = raised.value
    assert error.size > IOT_CORE_MAX_PAYLOAD and (error.dim, error.encoding) == (20000, "json")
    assert error.fits == "base64-float16"
    assert str(error) == (f"a features message of {error.size} bytes is above the IoT Core payload limit of "
                          f"131072 bytes (dimension 20000, encoding json); use encoding base64-float16, "
                          f"which fits")
    assert len(iot_payload(build(20000, "base64-float16"))) <= IOT_CORE_MAX_PAYLOAD


def test_nothing_fits_says_so():
    with pytest.raises(PayloadTooLarge) as raised:
        iot_payload(build(65536, "base64-float16"))  # 131 KB of float16 before base64
    assert raised.value.fits is None
    assert "no encoding fits: use a model with a smaller feature dimension" in str(raised.value)


def test_the_boundary_is_inclusive():
    features = build(8, "base64-float32")
    size = len(iot_payload(features))
    assert iot_payload(features, limit=size)
    with pytest.raises(PayloadTooLarge):
        iot_payload(features, limit=size - 1)
