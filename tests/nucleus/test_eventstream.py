"""The event-stream codec: header types round-trip and messages survive any split on the wire."""

import random
import uuid

import pytest
from local_nucleus import eventstream as es

ALL_TYPES = [
    ("t", es.HeaderType.BOOL_TRUE, True), ("f", es.HeaderType.BOOL_FALSE, False),
    ("b", es.HeaderType.BYTE, -7), ("s", es.HeaderType.INT16, -300), ("i", es.HeaderType.INT32, 2 ** 31 - 1),
    ("l", es.HeaderType.INT64, -(2 ** 40)), ("buf", es.HeaderType.BYTE_BUF, b"\x00\xff"),
    ("str", es.HeaderType.STRING, "héllo"), ("ts", es.HeaderType.TIMESTAMP, 1700000000000),
    ("id", es.HeaderType.UUID, uuid.UUID(int=12345)),
]


def feed(reader: es.FrameReader, data: bytes, rng: random.Random) -> list:
    messages, position = [], 0
    while position < len(data):
        buffer = reader.get_buffer(-1)
        count = min(len(buffer), rng.randint(1, 70000), len(data) - position)
        buffer[:count] = data[position:position + count]
        position += count
        messages += [(headers, bytes(payload)) for headers, payload in reader.buffer_updated(count)]
    return messages


def test_every_header_type_round_trips():
    (message,) = feed(es.FrameReader(), b"".join(es.frame(es.encode_headers(ALL_TYPES), b"body")),
                      random.Random(1))
    assert message == (ALL_TYPES, b"body")


@pytest.mark.parametrize("seed", range(5))
def test_messages_split_at_any_boundary_are_reassembled(seed):
    rng = random.Random(seed)
    sent = []
    for n in range(30):
        chunk = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 10, 5000])))
        sent.append((f"m{n}", chunk * rng.randint(1, 100)))
    wire = b"".join(b"".join(es.frame(es.encode_headers([("n", es.HeaderType.STRING, name)]), payload))
                    for name, payload in sent)

    received = feed(es.FrameReader(), wire, rng)

    assert [(headers[0][2], payload) for headers, payload in received] == sent


def test_payload_over_the_sixteen_mebibyte_limit_cannot_be_framed():
    with pytest.raises(ValueError):
        es.frame(b"", bytes(es.MAX_MESSAGE_SIZE))
