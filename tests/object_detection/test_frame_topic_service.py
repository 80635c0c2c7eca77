"""The running detector takes a frame event only from its own camera's topic: an event of camera "front"
published on camera "back"'s topic (a component allowed to publish there, spoofing another camera)
is refused, not inferred as "front" (#9 point 6, through the service's real subscriptions)."""

import pytest
from detection_helpers import (
    RingCamera,
    example_image,
    model_folder,
    next_valid,
    observer,
    running_service,
    settings,
)
from harness import connect, local_nucleus, pubsub_policy

pytestmark = pytest.mark.timeout(120)


def test_a_frame_event_on_another_cameras_topic_is_refused(tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0)
    with local_nucleus() as nucleus, running_service(nucleus, configuration) as service:
        watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
        front, back = RingCamera(nucleus, rings, "front"), RingCamera(nucleus, rings, "back")
        spoofer = connect(nucleus, "test.Spoofer", pubsub_policy(publish=["ggvision/cameras/back/frames"]))
        try:
            spoofed = front.write(example_image())  # a real frame of camera "front" ...
            spoofer.publish_json("ggvision/cameras/back/frames", spoofed)  # ... on "back"'s topic
            genuine = back.send(example_image())
            seen = []
            while not seen or seen[-1] != ("back", genuine["seq"]):  # every message up to back's
                message = next_valid(detections, "ggvision.detections/1", 60)
                seen.append((message["camera_id"], message["seq"]))
            assert all(camera == "back" for camera, _ in seen), seen  # nothing was inferred as "front"
            assert service._frames.invalid >= 1
        finally:
            spoofer.close()
            front.close()
            back.close()
            watcher.close()
