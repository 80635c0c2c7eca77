"""Feature vectors on the wire: encodings, the features message, IoT Core's size limit, and the two
cost controls (similarity dedup, per-minute cap). The model side is `ggvision.featurizer`."""

from .dedup import Deduplicator, cosine_similarity
from .encoding import DEFAULT_ENCODING, ENCODINGS, decode, encode
from .message import SCHEMA, BoxSource, message, message_vector
from .rate_cap import RateCap
from .size import IOT_CORE_MAX_PAYLOAD, PayloadTooLarge, iot_payload, payload_bytes

__all__ = ["ENCODINGS", "DEFAULT_ENCODING", "encode", "decode", "SCHEMA", "BoxSource", "message",
           "message_vector", "IOT_CORE_MAX_PAYLOAD", "PayloadTooLarge", "iot_payload", "payload_bytes",
           "Deduplicator", "cosine_similarity", "RateCap"]
