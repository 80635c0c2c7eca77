"""A local stand-in for the Greengrass nucleus, for development and tests only (never deployed).

It speaks the real Greengrass IPC wire protocol (AWS event-stream RPC over a Unix socket), so
components use the real `awsiotsdk` client against it, and runs components from their recipes.
"""

from .iot_core import IotCoreMessage
from .server import LocalNucleus

__all__ = ["IotCoreMessage", "LocalNucleus"]
