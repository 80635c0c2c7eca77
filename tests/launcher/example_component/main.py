"""test.launcher.Example: reads its configuration, reports RUNNING, publishes until SIGTERM.

With ReportErrored it reports ERRORED instead once it has published, to exercise restarts.
"""

import os
import signal
import sys
import threading

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage, ReportedLifecycleState


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = GreengrassCoreIPCClientV2()
    config = client.get_configuration(key_path=[]).value
    message = {
        "greeting": config["Greeting"],
        "thing": os.environ.get("AWS_IOT_THING_NAME"),
        "marker": os.environ.get("EXAMPLE_MARKER"),
        "env_thing": os.environ.get("EXAMPLE_THING"),
        "artifacts": os.environ.get("EXAMPLE_ARTIFACTS"),
        "cwd": os.getcwd(),
        "python": sys.executable,
    }
    print(f"configured: greeting={config['Greeting']}")
    client.update_state(state=ReportedLifecycleState.RUNNING)
    published = False
    # Publishing until stopped: a subscriber that starts later still gets a message.
    while not stop.wait(0.1):
        client.publish_to_topic(topic=config["Topic"],
                                publish_message=PublishMessage(json_message=JsonMessage(message=message)))
        if not published:
            print(f"published to {config['Topic']}")
            published = True
        if config.get("ReportErrored"):
            client.update_state(state=ReportedLifecycleState.ERRORED)
            print("reported ERRORED")
            stop.wait(30)
    print("stopping on SIGTERM")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
