"""Readiness: a component that depends on ObjectDetection never loses its first request on a fresh start.

- As deployed: the detector's recipe uses a Startup step, so the nucleus holds a dependent back until
  the detector reports RUNNING, which it does once its model is loaded and its request topic
  subscribed. A ported v1 component (a real process, HARD dependency) sends exactly one request, with
  no resend, the moment it starts — it is answered.
- In the client: an InferenceClient that starts before the service re-sends until the service has
  answered once, so its first request is answered when the service comes up.
"""

import threading
import time

import pytest
from detection_helpers import (
    COMPONENT,
    DEMO_MODEL,
    build_components,
    example_image,
    launched,
    model_folder,
    running_service,
    settings,
)
from ggvision.inference import InferenceClient
from harness import connect, local_nucleus, pubsub_policy

pytestmark = pytest.mark.timeout(180)

PORT = "test.V1Port"
WAIT = 90

PORT_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: test.V1Port
ComponentVersion: "1.0.0"
ComponentDependencies:
  ggvision.DLRRuntime:
    VersionRequirement: ">=0.1.0 <0.2.0"
  ggvision.ObjectDetection:
    VersionRequirement: ">=0.1.0 <0.2.0"
    DependencyType: HARD
ComponentConfiguration:
  DefaultConfiguration:
    accessControl:
      aws.greengrass.ipc.pubsub:
        test.V1Port:pubsub:1:
          operations: [aws.greengrass#PublishToTopic]
          resources: [ggvision/inference/detector/request]
        test.V1Port:pubsub:2:
          operations: [aws.greengrass#SubscribeToTopic]
          resources: [ggvision/inference/detector/reply/port, ggvision/inference/detector/errors]
Manifests:
  - Platform:
      os: linux
    Lifecycle:
      Run: "{ggvision.DLRRuntime:work:path}/venv/bin/python3 -u {artifacts:path}/port.py"
    Artifacts:
      - URI: s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/port.py
"""

# A v1 Lambda's first call, ported: one request the moment the component starts, and no second chance
# (resend_interval longer than the timeout).
PORT_SCRIPT = """
import json, sys, time
print("started at", repr(time.time()), flush=True)
import cv2, numpy as np
from ggvision.inference import InferenceClient, GreengrassInferenceException
image = np.full((480, 640, 3), 128, np.uint8); image[:120, :160] = (0, 0, 255)
body = cv2.imencode(".jpg", image)[1].tobytes()
client = InferenceClient("detector", client_name="port", resend_interval=3600)
try:
    response = client.invoke_inference_service(ServiceName="detector", Body=body, timeout=10)
    print("first request answered:", json.loads(response["Body"].read())["prediction"][:1], flush=True)
except GreengrassInferenceException as error:
    print("first request lost:", error, flush=True)
    sys.exit(1)
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, device_runtime):
    base = tmp_path_factory.mktemp("readiness")
    built = build_components(str(base / "build"), device_runtime)
    (base / "recipes").mkdir()
    (base / "recipes" / "test.V1Port.yaml").write_text(PORT_RECIPE)
    artifacts = base / "artifacts" / PORT / "1.0.0"
    artifacts.mkdir(parents=True)
    (artifacts / "port.py").write_text(PORT_SCRIPT)
    return dict(built, recipes=built["recipes"] + [str(base / "recipes")],
                artifacts=built["artifacts"] + [str(base / "artifacts")])


def test_a_dependent_first_request_is_answered_on_a_fresh_start(built, tmp_path):
    # The colour test model: the red block is a detection the first answer must carry (the
    # recipe's default, the pedestrian detector, finds nothing in it).
    configuration = {COMPONENT: {"RingFolder": str(tmp_path / "rings"), "CountsIntervalSeconds": 0,
                                 "ModelPath": DEMO_MODEL}}
    with local_nucleus() as nucleus, launched(nucleus, built, str(tmp_path / "run"), configuration,
                                              [COMPONENT, PORT]) as launcher:
        assert launcher.wait_for_state(PORT, "FINISHED", WAIT), (launcher.state_history(PORT),
                                                                 launcher.log_lines(PORT))
        assert any(line.startswith("first request answered: [[") for line in launcher.log_lines(PORT))
        # The port's process started only after the detector reported RUNNING (model loaded,
        # request topic subscribed): the Startup step held it back.
        assert launcher.state_history(COMPONENT)[:4] == ["NEW", "INSTALLED", "STARTING", "RUNNING"]
        assert "ERRORED" not in launcher.state_history(PORT)
        started = float(next(line.split()[-1] for line in launcher.log_lines(PORT)
                             if line.startswith("started at ")))
        running = next(line for line in launcher.log_lines(COMPONENT)
                       if line.endswith(f"INFO {COMPONENT}: {COMPONENT} running"))
        reported = time.mktime(time.strptime(running[:19], "%Y-%m-%d %H:%M:%S")) + int(running[20:23]) / 1000
        assert started >= reported - 0.001, (started, running)


def test_a_client_that_starts_before_the_service_is_answered_when_it_comes_up(tmp_path):
    import cv2

    body = cv2.imencode(".jpg", example_image())[1].tobytes()
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"),
                             RingFolder=str(tmp_path / "rings"), CountsIntervalSeconds=0)
    with local_nucleus() as nucleus:
        ipc = connect(nucleus, "test.Early", pubsub_policy(
            publish=["ggvision/inference/detector/request"],
            subscribe=["ggvision/inference/detector/reply/early", "ggvision/inference/detector/errors"]))
        results = {}

        def ask():
            with InferenceClient("detector", ipc=ipc, client_name="early", resend_interval=0.5) as client:
                results["answer"] = client.invoke(content_type="image/jpeg", body=body, timeout=WAIT)

        asking = threading.Thread(target=ask)
        asking.start()
        time.sleep(1.5)  # the request is out, and lost: nothing is subscribed yet
        with running_service(nucleus, configuration):
            asking.join(WAIT)
        ipc.close()
    assert not asking.is_alive() and results["answer"]["prediction"]
