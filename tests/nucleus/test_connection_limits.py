"""Connections that never complete CONNECT: each gets HANDSHAKE_TIMEOUT seconds, at most
MAX_UNAUTHENTICATED wait at once (the oldest is dropped for a newcomer), and what is dropped is one
summary line per few seconds, so a flood of half-sent CONNECTs neither locks real clients out nor
fills the log."""

import json
import logging
import shutil
import socket
import tempfile
import time

import pytest
from ggvision.ipc import IpcClient
from local_nucleus import eventstream as es
from local_nucleus.rpc import HANDSHAKE_TIMEOUT, MAX_UNAUTHENTICATED
from nucleus_helpers import eventually, prelude
from nucleus_process import NucleusProcess

pytestmark = pytest.mark.timeout(120)


def half_connect(path: str, patience: float = 10.0) -> socket.socket:
    """A socket that sent the first half of a real CONNECT message and then nothing. A full listen
    backlog (the nucleus accepting a burst) is waited out for up to `patience` seconds."""
    headers = [(":version", es.HeaderType.STRING, "0.1.0"), (":message-type", es.HeaderType.INT32,
               es.MessageType.CONNECT), (":message-flags", es.HeaderType.INT32, 0),
               (":stream-id", es.HeaderType.INT32, 0)]
    message = b"".join(es.frame(es.encode_headers(headers), json.dumps({"authToken": "x" * 64}).encode()))
    deadline = time.monotonic() + patience
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect(path)
            break
        except BlockingIOError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    sock.sendall(message[:len(message) // 2])
    sock.setblocking(False)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset by the server's abort
        return True


def works(client: IpcClient) -> bool:
    client.publish_json("limits/check", {"ok": True})
    return client.get_configuration(["Setting"]) == {"Setting": 1}


def test_silent_half_connects_are_dropped_and_real_clients_still_connect(nucleus, caplog):
    caplog.set_level(logging.WARNING, logger="local_nucleus.rpc")
    started = time.monotonic()
    silent = [half_connect(nucleus.socket_path) for _ in range(MAX_UNAUTHENTICATED * 4)]
    # No more than the limit wait; the others were dropped as newer ones came.
    assert eventually(lambda: nucleus.handshake_stats()["awaiting_connect"] == MAX_UNAUTHENTICATED, 10)

    token = nucleus.add_component("test.Real", {"Setting": 1, "accessControl": {"aws.greengrass.ipc.pubsub": {
        "test.Real:1": {"policyDescription": "p", "operations": ["*"], "resources": ["*"]}}}})
    client = IpcClient.connect(nucleus.socket_path, token, timeout=5)
    try:
        assert works(client)
        # The newest MAX_UNAUTHENTICATED are closed once their time is up; every other one already is.
        assert eventually(lambda: all(closed_by_server(sock) for sock in silent), HANDSHAKE_TIMEOUT + 15)
        assert time.monotonic() - started >= HANDSHAKE_TIMEOUT
        stats = nucleus.handshake_stats()
        assert stats["awaiting_connect"] == 0
        assert sum(stats["dropped"].values()) == len(silent), stats
        # (the real client, waiting for a moment too, made room for itself by dropping the oldest)
        assert stats["dropped"][f"silent for {HANDSHAKE_TIMEOUT:g} s"] == MAX_UNAUTHENTICATED - 1, stats
        assert works(client)  # the real client was never dropped
    finally:
        client.close()
        for sock in silent:
            sock.close()
    # One summary line per few seconds, not one (or a traceback) per connection.
    lines = [r.getMessage() for r in caplog.records if r.name == "local_nucleus.rpc"]
    assert 1 <= len(lines) <= 2 + (time.monotonic() - started) / 5, lines
    assert all(line.startswith("dropped IPC connections that had not completed CONNECT") for line in lines)
    assert not any(r.exc_info for r in caplog.records)


def test_a_first_message_too_large_for_a_connect_is_dropped_at_once(nucleus):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(HANDSHAKE_TIMEOUT / 2)  # well before the handshake timeout
    sock.connect(nucleus.socket_path)
    sock.sendall(prelude(8 * 1024 * 1024, 100))  # announces 8 MiB, sends 12 bytes
    try:
        assert sock.recv(4096) == b""
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    assert eventually(lambda: nucleus.handshake_stats()["awaiting_connect"] == 0, 5)


def test_a_connected_client_outlives_the_handshake_timeout(tmp_path):
    folder = tempfile.mkdtemp(prefix="ggc")
    try:
        process = NucleusProcess(folder, {"test.Slow": {"Setting": 1, "accessControl": {
            "aws.greengrass.ipc.pubsub": {"test.Slow:1": {"policyDescription": "p", "operations": ["*"],
                                                          "resources": ["*"]}}}}}, handshake_timeout=0.5)
        try:
            env = process.env["test.Slow"]
            client = IpcClient.connect(env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"],
                                       env["SVCUID"])
            silent = half_connect(process.socket_path)
            assert eventually(lambda: closed_by_server(silent), 10)  # its 0.5 s are up...
            assert works(client)  # ...the connected client's never are
            assert not client.connection_lost.is_set()
            client.close()
            silent.close()
        finally:
            process.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_flood_of_half_connects_does_not_exhaust_the_nucleus_descriptors():
    """The measured failure: with the usual limit of 1024 open files, ~1016 silent connections ran the
    nucleus out of file descriptors; it then refused every real client and logged an accept()
    traceback per attempt."""
    folder = tempfile.mkdtemp(prefix="ggf")
    silent = []
    try:
        process = NucleusProcess(folder, {"test.Real": {"Setting": 1, "accessControl": {
            "aws.greengrass.ipc.pubsub": {"test.Real:1": {"policyDescription": "p", "operations": ["*"],
                                                          "resources": ["*"]}}}}}, max_open_files=1024)
        try:
            for _ in range(1100):
                try:
                    silent.append(half_connect(process.socket_path, patience=0))
                except OSError:  # the listen backlog is full for a moment: the flood goes on regardless
                    pass
            # Once the nucleus has caught up with the flood, only the newest silent ones are left open...
            assert eventually(lambda: sum(not closed_by_server(sock) for sock in silent)
                              <= MAX_UNAUTHENTICATED, 30)
            # ...and a real client gets in while they are.
            env = process.env["test.Real"]
            client = IpcClient.connect(env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"],
                                       env["SVCUID"], timeout=5)
            assert works(client)
            client.close()
        finally:
            process.kill()
        log = process.log()
        assert "Traceback" not in log and "accept" not in log, log[:3000]
        assert len(log.splitlines()) <= 5, log[:3000]
    finally:
        for sock in silent:
            sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_event_loop_errors_are_logged_once_per_interval(nucleus, caplog):
    """asyncio reports accept() failing (out of file descriptors) with a traceback on every attempt."""
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(100):
                nucleus._on_loop_error(loop, {"message": "socket.accept() out of system resource",
                                              "exception": OSError(24, "Too many open files")})
    finally:
        loop.close()
    assert len([r for r in caplog.records if r.name == "asyncio"]) == 1
