"""Fixtures for the local nucleus tests: a running LocalNucleus and real awsiotsdk IPC clients."""

import os
import shutil
import tempfile
from typing import Callable, Dict, List, Optional

import awsiot.greengrasscoreipc
import pytest
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from local_nucleus import LocalNucleus
from nucleus_helpers import THING, RawClient


@pytest.fixture
def nucleus(tmp_path):
    # AF_UNIX paths are limited to 107 bytes: keep the socket in a short directory under /tmp.
    socket_dir = tempfile.mkdtemp(prefix="ggn", dir="/tmp")
    server = LocalNucleus(os.path.join(socket_dir, "ipc.sock"), iot_log_path=str(tmp_path / "iot.jsonl"),
                          thing_name=THING)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture
def connect(nucleus):
    """connect(name, configuration=None) -> a real GreengrassCoreIPCClientV2 for that component
    (registered first when a configuration is given or it is unknown)."""
    clients: List[GreengrassCoreIPCClientV2] = []
    registered: Dict[str, str] = {}

    def _connect(name: str, configuration: Optional[dict] = None) -> GreengrassCoreIPCClientV2:
        if configuration is not None or name not in registered:
            registered[name] = nucleus.add_component(name, configuration or {})
        env = nucleus.component_env(name)
        connection = awsiot.greengrasscoreipc.connect(
            ipc_socket=env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"], authtoken=env["SVCUID"])
        # Callbacks on the client's networking thread (executor=None) keep events in arrival order,
        # and all of them have run by the time a later reply on the same connection is returned.
        client = GreengrassCoreIPCClientV2(client=connection, executor=None)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - already closed by the test
            pass


@pytest.fixture
def raw_client(nucleus) -> Callable[[], RawClient]:
    opened: List[RawClient] = []

    def _open() -> RawClient:
        client = RawClient(nucleus.socket_path)
        opened.append(client)
        return client

    yield _open
    for client in opened:
        client.close()
