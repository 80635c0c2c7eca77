"""Local IPC through the local nucleus: publish→receive rate and latency, 1 KB JSON and 1 MB binary.

Two real awsiotsdk clients (a publisher and a subscriber, as two components would have) talk through
the project's local nucleus. Rate: the publisher sends a burst without waiting for acknowledgements,
at most a window of messages ahead of the subscriber, and the clock stops when the subscriber has
every message. Latency: one message at a time, publish until the subscriber's callback has it.
"""

import concurrent.futures
import os
import struct
import tempfile
import time
from typing import Any, Dict, List

from ggvision.ipc import IpcClient
from local_nucleus.server import LocalNucleus

from .results import percentiles

TOPIC = "bench/ipc"


def _access(component: str) -> Dict[str, Any]:
    # Policy ids must be unique across components, as on the nucleus (which drops duplicates).
    return {"accessControl": {"aws.greengrass.ipc.pubsub": {
        f"{component}:pubsub:1": {"operations": ["*"], "resources": [TOPIC]},
    }}}


def run(quick: bool = False) -> Dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="ggb")
    with LocalNucleus(os.path.join(folder, "ipc.sock")) as nucleus:
        clients = {}
        for name in ("bench.Publisher", "bench.Subscriber"):
            token = nucleus.add_component(name, _access(name))
            clients[name] = IpcClient.connect(nucleus.socket_path, token)
        publisher, subscriber = clients["bench.Publisher"], clients["bench.Subscriber"]
        try:
            small = _measure(publisher, subscriber, "json", 1024, 300 if quick else 3000,
                             200 if quick else 1000)
            large = _measure(publisher, subscriber, "binary", 1024 * 1024, 20 if quick else 200,
                             20 if quick else 200)
        finally:
            publisher.close()
            subscriber.close()
    return {
        "json_1kb_msgs_per_s": small["msgs_per_s"],
        "json_1kb_latency_ms_p50": small["latency_ms"]["p50"],
        "json_1kb_latency_ms_p99": small["latency_ms"]["p99"],
        "binary_1mb_msgs_per_s": large["msgs_per_s"],
        "binary_1mb_mb_per_s": round(large["msgs_per_s"] * large["message_bytes"] / 1e6, 1),
        "binary_1mb_latency_ms_p50": large["latency_ms"]["p50"],
        "binary_1mb_latency_ms_p99": large["latency_ms"]["p99"],
        "details": {"json_1kb": small, "binary_1mb": large},
    }


def _measure(publisher: IpcClient, subscriber: IpcClient, kind: str, size: int, burst: int,
             pings: int) -> Dict[str, Any]:
    subscription = subscriber.subscribe(TOPIC, max_pending=burst + 10)
    try:
        send = _sender(publisher, kind, size)
        # Warm-up: connection buffers, first-use paths.
        for _ in range(5):
            send(0).result(10)
            subscription.get(10)

        # Credit-based: never more than `window` messages (at most 16 MB) sent but not yet received,
        # so the rate is what a subscriber sustains, and the nucleus never has to drop for a
        # subscriber that fell behind (it keeps at most 64 MiB of unread output per connection).
        window = max(1, min(64, (16 * 1024 * 1024) // size))
        in_flight: List[concurrent.futures.Future] = []
        received = 0
        started = time.perf_counter()
        for index in range(burst):
            while index - received >= window:
                if subscription.get(30) is None:
                    raise RuntimeError(f"subscriber got {received} of {burst} messages")
                received += 1
            in_flight.append(send(index))
        while received < burst:
            if subscription.get(30) is None:
                raise RuntimeError(f"subscriber got {received} of {burst} messages")
            received += 1
        elapsed = time.perf_counter() - started
        for future in in_flight:
            future.result(30)

        latencies = []
        for _ in range(pings):
            sent = time.perf_counter()
            send(0)
            if subscription.get(30) is None:
                raise RuntimeError("latency message lost")
            latencies.append((time.perf_counter() - sent) * 1000.0)
        return {
            "message_bytes": size,
            "messages": burst,
            "msgs_per_s": round(burst / elapsed, 1),
            "latency_samples": pings,
            "latency_ms": percentiles(latencies),
            "dropped": subscription.dropped,
        }
    finally:
        subscription.close()


def _sender(publisher: IpcClient, kind: str, size: int):
    if kind == "json":
        padding = "x" * (size - 60)

        def send_json(index: int) -> concurrent.futures.Future:
            return publisher.publish_json_async(TOPIC, {"i": index, "pad": padding})

        return send_json

    payload = os.urandom(size - 8)

    def send_binary(index: int) -> concurrent.futures.Future:
        return publisher.publish_binary_async(TOPIC, struct.pack(">Q", index) + payload)

    return send_binary
