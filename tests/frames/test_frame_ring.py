"""The shared-memory frame ring: a writer and FrameReaders in the same and in other processes.

The race test runs a real writer process that hammers one slot with frames whose every pixel is the
frame's seq (mod 256): a returned frame that is not uniform, or not of its seq, would be a torn read
that the counters missed.
"""

import hashlib
import json
import multiprocessing
import os
import stat
import time

import numpy as np
import pytest
from ggvision.contracts import validate
from ggvision.frames import FrameReader, FrameRing, FrameUnavailable, WrittenFrame, frame_event

SPAWN = multiprocessing.get_context("spawn")


def random_image(height, width, channels=3, seed=0):
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def event_for(ring, written):
    event = frame_event(ring.camera_id, written.seq, time.time(), ring.width, ring.height,
                        ring.pixel_format, shm=written)
    return json.loads(json.dumps(event))  # as a subscriber gets it


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / "rings")


def test_frames_written_are_read_back_exactly_and_events_follow_the_schema(folder):
    with FrameRing.create(folder, "front", 64, 48) as ring, FrameReader(folder) as reader:
        for seq in range(6):  # more frames than slots: wraps around
            image = random_image(48, 64, seed=seq)
            written = ring.write(image, captured_at=1000.0 + seq)
            assert (written.seq, written.slot, written.path) == (seq, seq % 4, ring.path)
            event = event_for(ring, written)
            validate(event)
            assert event["shm"] == {"path": ring.path, "slot": seq % 4}
            frame = reader.read(event)
            assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
            assert np.array_equal(frame, image)


def test_gray_and_rgb_rings_have_their_own_shapes(folder):
    with FrameRing.create(folder, "gray", 40, 30, pixel_format="gray8") as gray, \
            FrameRing.create(folder, "rgb", 40, 30, pixel_format="rgb24", slots=2) as rgb, \
            FrameReader(folder) as reader:
        plane = random_image(30, 40, channels=1)
        assert np.array_equal(reader.read(event_for(gray, gray.write(plane, 1.0))), plane)
        # An H×W×1 array is accepted for gray8 too.
        assert np.array_equal(reader.read(event_for(gray, gray.write(plane[:, :, None], 1.0))), plane)
        colour = random_image(30, 40)
        assert np.array_equal(reader.read(event_for(rgb, rgb.write(colour, 1.0))), colour)


def test_the_written_frame_also_reads_like_the_shm_reference_dict(folder):
    with FrameRing.create(folder, "cam", 8, 8) as ring:
        written = ring.write(random_image(8, 8), 1.0)
        assert isinstance(written, WrittenFrame)
        assert dict(written) == {"path": ring.path, "slot": 0, "seq": 0}
        assert written.shm == {"path": ring.path, "slot": 0}
        # frame_event takes either form and keeps only path and slot.
        for shm in (written, dict(written), written.shm):
            validate(frame_event("cam", written.seq, 1.0, 8, 8, "bgr24", shm=shm))


def test_a_frame_of_the_wrong_shape_or_type_is_refused(folder):
    with FrameRing.create(folder, "cam", 8, 6) as ring:
        for bad in (np.zeros((8, 6, 3), np.uint8), np.zeros((6, 8, 3), np.float32),
                    np.zeros((6, 8), np.uint8), [[0]]):
            with pytest.raises(ValueError):
                ring.write(bad, 1.0)
        assert ring.next_seq == 0  # nothing was written


@pytest.mark.parametrize("kwargs", [{"camera_id": "../x"}, {"camera_id": ""}, {"width": 0}, {"height": 20000},
                                    {"pixel_format": "yuv420"}, {"slots": 0}])
def test_bad_ring_arguments_are_clear_errors(folder, kwargs):
    arguments = {"camera_id": "cam", "width": 8, "height": 8, "pixel_format": "bgr24", "slots": 4}
    arguments.update(kwargs)
    with pytest.raises(ValueError):
        FrameRing.create(folder, **arguments)


def test_the_ring_file_is_group_readable_whatever_the_umask(tmp_path):
    folder = str(tmp_path / "shm" / "ggvision")
    previous = os.umask(0o077)
    try:
        ring = FrameRing.create(folder, "cam", 8, 8)
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE(os.stat(ring.path).st_mode) == 0o640
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o750
        assert os.listdir(folder) == ["cam.ring"]  # no temporary file left behind
    finally:
        ring.close()
    assert not os.path.exists(ring.path)


def test_a_stale_reference_is_reported_as_overwritten(folder):
    with FrameRing.create(folder, "cam", 16, 16, slots=2) as ring, FrameReader(folder) as reader:
        first = event_for(ring, ring.write(random_image(16, 16, seed=1), 1.0))
        ring.write(random_image(16, 16, seed=2), 2.0)
        assert reader.read(first) is not None
        ring.write(random_image(16, 16, seed=3), 3.0)  # slot 0 again: frame 0 is gone
        with pytest.raises(FrameUnavailable, match="overwritten"):
            reader.read(first)
        assert not reader.still_valid(first)
        # A seq the slot never held (for example from before a camera restart) is not served either.
        future = dict(first, seq=10)
        with pytest.raises(FrameUnavailable, match="overwritten"):
            reader.read(future)


def test_a_zero_copy_view_is_checked_with_still_valid(folder):
    with FrameRing.create(folder, "cam", 16, 16, slots=2) as ring, FrameReader(folder) as reader:
        image = random_image(16, 16)
        event = event_for(ring, ring.write(image, 1.0))
        view = reader.read(event, copy=False)
        assert not view.flags.writeable
        assert np.array_equal(view, image) and reader.still_valid(event)
        ring.write(random_image(16, 16, seed=5), 2.0)
        assert reader.still_valid(event)  # the other slot
        ring.write(random_image(16, 16, seed=6), 3.0)
        assert not reader.still_valid(event)
        del view
        assert reader.still_valid(frame_event("cam", 0, 1.0, 2, 2, "bgr24", jpeg_data=b"\xff\xd8"))


def test_zero_copy_views_outlive_a_remap_and_close_without_crashing(folder):
    reader = FrameReader(folder)
    old = FrameRing.create(folder, "cam", 16, 16)
    image = random_image(16, 16, seed=3)
    view = reader.read(event_for(old, old.write(image, 1.0)), copy=False)
    new = FrameRing.create(folder, "cam", 8, 8, first_seq=old.next_seq)
    old.close()
    assert reader.read(event_for(new, new.write(random_image(8, 8), 2.0))).shape == (8, 8, 3)  # re-mapped
    reader.close()
    new.close()
    # The old mapping stays alive as long as the view does: still the pixels it showed, no crash.
    assert np.array_equal(view, image)


def test_a_closed_ring_refuses_writes(folder):
    ring = FrameRing.create(folder, "cam", 8, 8)
    ring.close()
    ring.close()
    with pytest.raises(RuntimeError, match="closed"):
        ring.write(random_image(8, 8), 1.0)


def test_a_missing_ring_file_makes_the_frame_unavailable(folder):
    ring = FrameRing.create(folder, "cam", 8, 8)
    reader = FrameReader(folder)
    try:
        event = event_for(ring, ring.write(random_image(8, 8), 1.0))
        assert reader.read(event) is not None
        ring.close()  # the camera stopped: the file is removed
        with pytest.raises(FrameUnavailable, match="gone"):
            reader.read(event)
        never = dict(event, shm={"path": os.path.join(folder, "never.ring"), "slot": 0})
        with pytest.raises(FrameUnavailable):
            reader.read(never)
    finally:
        reader.close()


def test_a_ring_recreated_with_a_new_geometry_is_mapped_again(folder):
    reader = FrameReader(folder)
    old = FrameRing.create(folder, "cam", 32, 24)
    try:
        old_event = event_for(old, old.write(random_image(24, 32), 1.0))
        assert reader.read(old_event).shape == (24, 32, 3)
        # The source changed size: the camera makes a new ring (the old one still open) and goes on counting.
        new = FrameRing.create(folder, "cam", 64, 48, first_seq=old.next_seq)
        image = random_image(48, 64, seed=9)
        new_event = event_for(new, new.write(image, 2.0))
        assert new_event["seq"] == 1 and new_event["shm"]["path"] == old_event["shm"]["path"]
        assert np.array_equal(reader.read(new_event), image)
        with pytest.raises(ValueError, match="32x24"):
            reader.read(old_event)  # the event's geometry is not the ring's any more
        old.close()  # must not remove the new ring's file
        assert os.path.exists(new.path)
        assert np.array_equal(reader.read(new_event), image)
        new.close()
    finally:
        old.close()
        reader.close()


def test_the_reader_keeps_a_bounded_number_of_rings_mapped(folder):
    rings = [FrameRing.create(folder, f"cam{i}", 8, 8, slots=1) for i in range(5)]
    try:
        reader = FrameReader(folder, max_rings=2)
        events = [event_for(ring, ring.write(random_image(8, 8, seed=i), 1.0))
                  for i, ring in enumerate(rings)]
        for _ in range(2):
            for i, event in enumerate(events):
                assert np.array_equal(reader.read(event), random_image(8, 8, seed=i))
        assert len(reader._rings) == 2
        reader.close()
        assert len(reader._rings) == 0
    finally:
        for ring in rings:
            ring.close()


# --- other processes ---------------------------------------------------------------------------------

def _read_in_child(folder, event, results):
    with FrameReader(folder) as reader:
        copied = reader.read(event, copy=True)
        view = reader.read(event, copy=False)
        results.put((hashlib.sha256(copied.tobytes()).hexdigest(), hashlib.sha256(view.tobytes()).hexdigest(),
                     copied.shape))
        del view


def test_a_reader_in_another_process_gets_exactly_the_pixels_written(folder):
    with FrameRing.create(folder, "cam", 640, 480) as ring:
        image = random_image(480, 640, seed=42)
        ring.write(random_image(480, 640, seed=1), 1.0)
        event = event_for(ring, ring.write(image, 2.0))
        results = SPAWN.Queue()
        child = SPAWN.Process(target=_read_in_child, args=(folder, event, results))
        child.start()
        try:
            copied, viewed, shape = results.get(timeout=120)
        finally:
            child.join(60)
        expected = hashlib.sha256(image.tobytes()).hexdigest()
        assert (copied, viewed, tuple(shape)) == (expected, expected, (480, 640, 3))
        assert child.exitcode == 0


def _hammer_one_slot(folder, latest, ready, stop):
    """A camera gone wild: bursts of frames into a one-slot ring, every pixel = seq % 256."""
    with FrameRing.create(folder, "race", 320, 240, slots=1) as ring:
        frame = np.empty((240, 320, 3), np.uint8)
        ready.set()
        while not stop.is_set():
            frame.fill(ring.next_seq % 256)
            written = ring.write(frame, time.time())
            latest.value = written.seq
            if written.seq % 8 == 7:
                time.sleep(0.0002)  # short breaks, so that some reads land between writes


@pytest.mark.timeout(300)
def test_a_reader_racing_a_fast_writer_never_returns_a_torn_frame(folder):
    latest = SPAWN.Value("Q", 0, lock=False)
    ready, stop = SPAWN.Event(), SPAWN.Event()
    writer = SPAWN.Process(target=_hammer_one_slot, args=(folder, latest, ready, stop))
    writer.start()
    outcomes = {"good": 0, "torn": 0, "overwritten": 0}
    try:
        assert ready.wait(120), "the writer process did not start"
        path = os.path.join(folder, "race.ring")
        with FrameReader(folder) as reader:
            attempts = 0
            while attempts < 200_000 and not (outcomes["good"] >= 300 and attempts >= 3000):
                attempts += 1
                seq = latest.value
                event = {"schema": "ggvision.frame/1", "ts": 0.0, "camera_id": "race", "seq": seq,
                         "captured_at": 0.0, "width": 320, "height": 240, "pixel_format": "bgr24",
                         "transport": "shm", "shm": {"path": path, "slot": 0}}
                try:
                    frame = reader.read(event)
                except FrameUnavailable as error:
                    outcomes["torn" if "torn" in str(error) else "overwritten"] += 1
                    assert "torn" in str(error) or "overwritten" in str(error)
                    continue
                values = np.unique(frame)
                assert values.tolist() == [seq % 256], f"frame {seq} came back with values {values[:8]}"
                outcomes["good"] += 1
    finally:
        stop.set()
        writer.join(60)
    print("race outcomes:", outcomes)
    assert outcomes["good"] > 0, outcomes
    assert writer.exitcode == 0
