"""A ring file deleted or truncated under a running camera and its readers, a ring folder squatted by
another user, and camera ids matched whole (issue 9, points 2, 3 and 6).

Where a fault could kill a process (SIGBUS on a truncated mapping) the writer or the reader runs in a
process of its own, and the test asserts it exits 0 having seen a clear error, not -7 (SIGBUS).
"""

import json
import multiprocessing
import os
import signal
import stat
import time

import numpy as np
import pytest
from ggvision.contracts import ContractError
from ggvision.frames import FrameReader, FrameRing, FrameUnavailable, frame_event
from ggvision.frames import ring as ring_module  # UnsafeRingFolder (a PermissionError), check_ring_folder

pytestmark = pytest.mark.timeout(120)

SPAWN = multiprocessing.get_context("spawn")
WIDTH, HEIGHT = 64, 48
WAIT = 15.0


def solid(seq):
    return np.full((HEIGHT, WIDTH, 3), seq % 256, dtype=np.uint8)


def event_of(camera_id, seq, slot, path):
    event = frame_event(camera_id, seq, time.time(), WIDTH, HEIGHT, "bgr24", shm={"path": path, "slot": slot})
    return json.loads(json.dumps(event))


def wait_for(condition, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def exit_text(process):
    return f"{process.exitcode}" + (" (SIGBUS)" if process.exitcode == -signal.SIGBUS else "")


def identity(path):
    status = os.stat(path)
    return status.st_dev, status.st_ino, status.st_size


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / "rings")


# ---------------------------------------------------------------- a camera process writing frames

def _camera(folder, latest, stop, remade):
    """A camera: one frame every 2 ms; `latest` holds (seq, slot) of the last frame written."""
    ring = FrameRing.create(folder, "front", WIDTH, HEIGHT)
    try:
        while not stop.is_set():
            written = ring.write(solid(ring.next_seq), time.time())
            with latest.get_lock():
                latest[0], latest[1] = written.seq, written.slot
            remade.value = getattr(ring, "remade", 0)
            time.sleep(0.002)
    finally:
        ring.close()


@pytest.fixture
def camera(folder):
    latest = SPAWN.Array("q", [-1, -1])
    stop = SPAWN.Event()
    remade = SPAWN.Value("i", 0)
    process = SPAWN.Process(target=_camera, args=(folder, latest, stop, remade), daemon=True)
    process.start()
    path = os.path.join(folder, "front.ring")

    def newest():
        with latest.get_lock():
            seq, slot = latest[0], latest[1]
        return (seq, slot) if seq >= 0 else None

    wait_for(newest, "the camera's first frame")
    yield process, path, newest, remade
    stop.set()
    process.join(WAIT)
    if process.is_alive():
        process.kill()


def read_a_fresh_frame(reader, path, newest, after_seq):
    """A frame newer than `after_seq` read through `reader` (retrying overwritten ones)."""
    def attempt():
        current = newest()
        if current is None or current[0] <= after_seq:
            return None
        seq, slot = current
        try:
            image = reader.read(event_of("front", seq, slot, path))
        except FrameUnavailable:
            return None
        assert (image == seq % 256).all()
        return seq
    return wait_for(attempt, f"a frame after {after_seq} through the reader")


def test_a_deleted_ring_is_made_again_and_readers_follow(camera):
    process, path, newest, remade = camera
    with FrameReader(os.path.dirname(path)) as reader:
        seq = read_a_fresh_frame(reader, path, newest, -1)
        before = identity(path)
        os.unlink(path)
        # The camera notices at its next write and makes the file again; the reader maps the new one.
        wait_for(lambda: os.path.exists(path), "the ring file to be made again")
        assert identity(path)[:2] != before[:2]
        wait_for(lambda: remade.value >= 1, "the camera to count the ring it made again")
        read_a_fresh_frame(reader, path, newest, seq + 1)
    assert process.is_alive()


def test_a_truncated_ring_neither_kills_the_camera_nor_the_reader(camera):
    process, path, newest, remade = camera
    with FrameReader(os.path.dirname(path)) as reader:
        seq = read_a_fresh_frame(reader, path, newest, -1)  # the reader has the ring mapped
        size = identity(path)[2]
        os.truncate(path, 64)  # only the header left: the old mappings' slot pages are gone

        def remade_or_dead():
            if not process.is_alive():
                raise AssertionError(f"the camera died: exit code {exit_text(process)}")
            return remade.value >= 1

        wait_for(remade_or_dead, "the camera to make the truncated ring again")
        assert identity(path)[2] == size
        read_a_fresh_frame(reader, path, newest, seq + 1)
    assert process.is_alive()


# ---------------------------------------------------------------- a reader process, the ring cut short

def _reader(folder, event, mapped, truncated, results):
    with FrameReader(folder) as reader:
        reader.read(event)  # mapped, pages touched
        mapped.set()
        truncated.wait(WAIT)
        outcome = []
        for call in (lambda: reader.read(event), lambda: reader.read(event, copy=False)):
            try:
                call()
                outcome.append("read")
            except FrameUnavailable as error:
                outcome.append("FrameUnavailable: " + str(error))
            except ValueError as error:
                outcome.append("ValueError: " + str(error))
        outcome.append(reader.still_valid(event))
        results.put(outcome)


def test_a_reader_refuses_a_ring_truncated_under_its_mapping_instead_of_dying(folder):
    ring = FrameRing.create(folder, "front", WIDTH, HEIGHT)
    try:
        written = ring.write(solid(0), 1.0)
        event = event_of("front", written.seq, written.slot, ring.path)
        mapped, truncated, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
        process = SPAWN.Process(target=_reader, args=(folder, event, mapped, truncated, results))
        process.start()
        assert mapped.wait(WAIT)
        os.truncate(ring.path, 64)
        truncated.set()
        process.join(WAIT)
        assert process.exitcode == 0, f"the reader exited {exit_text(process)}"
        first, zero_copy, still_valid = results.get(timeout=5)
        assert first.startswith("FrameUnavailable: ") and "truncated" in first, first
        assert zero_copy.startswith("FrameUnavailable: "), zero_copy
        assert still_valid is False
    finally:
        ring.close()  # never touches the truncated pages


def _truncate_between_writes(folder, results):
    import logging

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logging.getLogger("ggvision.frames").addHandler(Keep())
    outcome = {}
    with FrameRing.create(folder, "front", WIDTH, HEIGHT) as ring:
        ring.write(solid(0), 1.0)
        os.truncate(ring.path, 0)
        written = ring.write(solid(1), 2.0)  # today: SIGBUS here
        outcome["after_truncate"] = (written.seq, ring.remade, ring.remade_because,
                                     os.path.getsize(ring.path) == ring.geometry.file_size)
        with FrameReader(folder) as reader:
            outcome["read"] = bool((reader.read(event_of("front", 1, written.slot, ring.path)) == 1).all())
        os.unlink(ring.path)
        ring.write(solid(2), 3.0)
        outcome["after_delete"] = (ring.remade, ring.remade_because, os.path.exists(ring.path))
    outcome["warnings"] = [text for text in records if "made it again" in text]
    results.put(outcome)


def test_a_writer_truncated_or_deleted_between_writes_makes_its_ring_again(folder):
    results = SPAWN.Queue()
    process = SPAWN.Process(target=_truncate_between_writes, args=(folder, results))
    process.start()
    process.join(WAIT)
    assert process.exitcode == 0, f"the writer exited {exit_text(process)}"
    outcome = results.get(timeout=5)
    seq, remade, because, full_size = outcome["after_truncate"]
    assert (seq, remade, full_size) == (1, 1, True)
    assert "truncated to 0 bytes" in because
    assert outcome["read"]
    remade, because, exists = outcome["after_delete"]
    assert remade == 2 and "was deleted" in because and exists
    # Logged once, not once per frame (a second time only 30 s later).
    assert len(outcome["warnings"]) == 1, outcome["warnings"]


# ---------------------------------------------------------------- a squatted ring folder

def test_a_ring_folder_writable_by_others_is_refused(folder):
    os.makedirs(folder)
    os.chmod(folder, 0o777)
    with pytest.raises(PermissionError, match=r"writable by its group or others \(mode 0777\)"):
        FrameRing.create(folder, "front", WIDTH, HEIGHT)
    assert not os.path.exists(os.path.join(folder, "front.ring"))
    os.chmod(folder, 0o770)
    with pytest.raises(PermissionError):
        ring_module.check_ring_folder(folder)
    os.chmod(folder, 0o750)
    FrameRing.create(folder, "front", WIDTH, HEIGHT).close()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_ring_folder_of_another_user_is_refused(folder):
    import pwd

    os.makedirs(folder, mode=0o755)
    nobody = pwd.getpwnam("nobody").pw_uid
    os.chown(folder, nobody, -1)
    with pytest.raises(PermissionError, match=r"belongs to nobody \(uid \d+\), not to this component's user"):
        FrameRing.create(folder, "front", WIDTH, HEIGHT)
    assert os.listdir(folder) == []


def test_the_ring_folder_made_by_the_camera_is_0750(folder):
    FrameRing.create(folder, "front", WIDTH, HEIGHT).close()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o750
    ring_module.check_ring_folder(folder)


# ---------------------------------------------------------------- camera ids matched whole

@pytest.mark.parametrize("camera_id", ["rel\n", "front\n", "\nfront", "a" * 65, ""])
def test_camera_ids_are_matched_whole(folder, camera_id):
    with pytest.raises(ValueError, match="camera id"):
        FrameRing.create(folder, camera_id, WIDTH, HEIGHT)
    with pytest.raises(ContractError, match="camera_id"):
        frame_event(camera_id, 1, 1.0, WIDTH, HEIGHT, "bgr24", shm={"path": "/x.ring", "slot": 0})


def test_ring_paths_must_be_a_camera_id_dot_ring(folder):
    with FrameRing.create(folder, "front", WIDTH, HEIGHT) as ring, FrameReader(folder) as reader:
        written = ring.write(solid(0), 1.0)
        event = event_of("front", 0, written.slot, ring.path)
        for name in ("front.ring\n", "x\n.ring", ".ring", "a b.ring"):
            bad = dict(event, shm={"path": os.path.join(folder, name), "slot": 0})
            with pytest.raises(ValueError, match="is not a .ring file"):
                reader.read(bad)
        assert (reader.read(event) == 0).all()
