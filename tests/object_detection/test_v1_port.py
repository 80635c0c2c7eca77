"""A v1 Lambda ported as docs/migrating-from-v1.md says keeps working: integer class ids (names[row[0]]),
`ServiceName` honoured, the v1 SDK's exception names, and a refused topic named with the policy line
to add — against the real ObjectDetection service over the local nucleus."""

import json

import cv2
import pytest
from detection_helpers import example_image, model_folder, running_service, settings
from ggvision.inference import (
    ErrorCode,
    GreengrassDependencyException,
    GreengrassInferenceException,
    InferenceClient,
)
from harness import connect, local_nucleus, pubsub_policy

pytestmark = pytest.mark.timeout(120)

DETECTOR = "ggvision/inference/detector/"
OTHER = "ggvision/inference/other/"
NAMES = ["red", "green", "blue"]  # the colour-grid model's labels


def jpeg_bytes():
    ok, data = cv2.imencode(".jpg", example_image(), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    base = tmp_path_factory.mktemp("v1-port")
    configuration = settings(ModelPath=model_folder(str(base), "gluoncv"), RingFolder=str(base / "rings"),
                             CountsIntervalSeconds=0)
    with local_nucleus() as nucleus, running_service(nucleus, configuration):
        yield nucleus


def ported_client(nucleus, name, services=("detector",)):
    """The migration guide's policy for `services`, and its InferenceClient."""
    publish = [f"ggvision/inference/{s}/request" for s in services]
    subscribe = [f"ggvision/inference/{s}/{t}" for s in services for t in ("reply/my-component", "errors")]
    ipc = connect(nucleus, name, pubsub_policy(publish=publish, subscribe=subscribe))
    return ipc, InferenceClient("detector", ipc=ipc, client_name="my-component")


def test_the_v1_call_gives_integer_class_ids_that_index_the_label_names(service):
    ipc, client = ported_client(service, "test.Ported")
    with client:
        response = client.invoke_inference_service(AlgoType="object-detection", ServiceName="detector",
                                                   ContentType="image/jpeg", Body=jpeg_bytes(), timeout=30)
        prediction = json.loads(response["Body"].read())["prediction"]
    ipc.close()
    assert prediction and all(type(row[0]) is int for row in prediction)
    assert sorted(NAMES[row[0]] for row in prediction) == ["blue", "red"]  # the v1 idiom works


def test_service_name_is_honoured_not_ignored(service):
    # The client was made for "detector"; ServiceName "other" must go to "other", which is not running.
    ipc, client = ported_client(service, "test.TwoServices", services=("detector", "other"))
    with client:
        with pytest.raises(GreengrassDependencyException) as raised:
            client.invoke_inference_service(ServiceName="other", Body=jpeg_bytes(), timeout=2)
        assert raised.value.code == ErrorCode.TIMEOUT and "other" in raised.value.message
        answered = client.invoke_inference_service(ServiceName="detector", Body=jpeg_bytes(), timeout=30)
        assert json.loads(answered["Body"].read())["prediction"]
    ipc.close()


def test_v1_except_clauses_catch_an_inference_failure(service):
    ipc, client = ported_client(service, "test.Excepts")
    with client:
        with pytest.raises(GreengrassInferenceException) as raised:
            client.invoke_inference_service(ContentType="image/jpeg", Body=b"not a jpeg", timeout=30)
        assert raised.value.code == ErrorCode.DECODE_FAILED
    ipc.close()


def test_a_refused_topic_is_named_with_the_policy_line_to_add(service):
    # The guide's snippet without client_name: a random reply topic that the guide's policy does not allow.
    ipc = connect(service, "test.NoPolicy", pubsub_policy(publish=[DETECTOR + "request"],
                                                          subscribe=[DETECTOR + "reply/my-component",
                                                                     DETECTOR + "errors"]))
    with pytest.raises(GreengrassDependencyException) as raised:
        InferenceClient("detector", ipc=ipc)
    message = raised.value.message
    assert raised.value.code == ErrorCode.NOT_AUTHORIZED
    assert "UnauthorizedError" in message and DETECTOR + "reply/" in message
    assert "aws.greengrass#SubscribeToTopic" in message and "accessControl" in message
    # Allowed to listen but not to ask: the request topic is named.
    ipc = connect(service, "test.NoPublish", pubsub_policy(subscribe=[DETECTOR + "reply/my-component",
                                                                      DETECTOR + "errors"]))
    with InferenceClient("detector", ipc=ipc, client_name="my-component") as client, \
            pytest.raises(GreengrassDependencyException) as raised:
        client.invoke(content_type="image/jpeg", body=jpeg_bytes(), timeout=5)
    assert raised.value.code == ErrorCode.NOT_AUTHORIZED
    assert DETECTOR + "request" in raised.value.message
    assert "aws.greengrass#PublishToTopic" in raised.value.message
    ipc.close()
