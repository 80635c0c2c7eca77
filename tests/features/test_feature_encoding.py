"""Every encoding decodes back to the vector: exactly, or within float16's precision."""

import json

import numpy as np
import pytest
from ggvision.features import ENCODINGS, decode, encode


def unit_vector(dim=576, seed=0):
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_round_trips(encoding):
    vector = unit_vector()
    encoded = encode(vector, encoding)
    json.dumps(encoded)  # it is JSON as it is
    decoded = decode(json.loads(json.dumps(encoded)), encoding)
    assert decoded.dtype == np.float32 and decoded.shape == vector.shape
    if encoding == "base64-float16":
        np.testing.assert_allclose(decoded, vector, rtol=1e-3, atol=1e-7)
    else:
        np.testing.assert_array_equal(decoded, vector)


def test_shapes_of_each_encoding():
    vector = np.array([0.5, -0.25, 1.0], np.float32)
    assert encode(vector) == "ADgAtAA8"  # little-endian float16: 0x3800, 0xb400, 0x3c00
    assert encode(vector, "base64-float32") == "AAAAPwAAgL4AAIA/"
    assert encode(vector, "json") == [0.5, -0.25, 1.0]
    assert encode(vector, "csv") == "0.5,-0.25,1.0"
    # Shortest float32 text: not float64's 0.10000000149011612.
    assert encode(np.array([0.1], np.float32), "json") == [0.1]


@pytest.mark.parametrize("vector, encoding, expected", [
    ([], "json", "1-D and non-empty"),
    ([[1.0]], "json", "1-D and non-empty"),
    ([float("nan")], "csv", "finite numbers only"),
    ([1e6], "base64-float16", "beyond float16's range"),
    ([1.0], "float16",
     "encoding 'float16' is not allowed (allowed: base64-float16, base64-float32, json, csv)"),
])
def test_encode_refuses_clearly(vector, encoding, expected):
    with pytest.raises(ValueError, match=None) as raised:
        encode(np.array(vector, np.float32), encoding)
    assert expected in str(raised.value)


@pytest.mark.parametrize("encoded, encoding, expected", [
    ("not base64!", "base64-float16", "not valid base64"),
    ("AAA=", "base64-float32", "not a whole number of 4-byte values"),
    ([1.0], "base64-float16", "must be a string"),
    ("1.0,x", "csv", "not a number"),
    ("", "csv", "non-empty string"),
    ([1, "2"], "json", "numbers only"),
    ([True], "json", "numbers only"),
    ("nan", "csv", "not a finite number"),
])
def test_decode_refuses_clearly(encoded, encoding, expected):
    with pytest.raises(ValueError) as raised:
        decode(encoded, encoding)
    assert expected in str(raised.value)
