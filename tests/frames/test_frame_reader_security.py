"""FrameReader never trusts the path or the geometry in a message: only .ring files directly inside the
ring folder (after resolving `..` and symlinks) are opened, and only when their header says so."""

import json
import os
import time

import numpy as np
import pytest
from ggvision.frames import FrameReader, FrameRing, FrameUnavailable, frame_event


@pytest.fixture
def setup(tmp_path):
    folder = str(tmp_path / "rings")
    ring = FrameRing.create(folder, "cam", 16, 12)
    written = ring.write(np.full((12, 16, 3), 7, np.uint8), time.time())
    event = json.loads(json.dumps(frame_event("cam", written.seq, 1.0, 16, 12, "bgr24", shm=written)))
    reader = FrameReader(folder)
    yield folder, ring, event, reader
    reader.close()
    ring.close()


def with_path(event, path, slot=0):
    return dict(event, shm={"path": path, "slot": slot})


def test_the_setup_reads(setup):
    folder, ring, event, reader = setup
    assert int(reader.read(event).mean()) == 7


def test_dot_dot_is_refused_even_when_it_resolves_inside(setup):
    folder, ring, event, reader = setup
    inside_again = os.path.join(folder, "..", os.path.basename(folder), "cam.ring")
    with pytest.raises(ValueError, match=r"\.\."):
        reader.read(with_path(event, inside_again))


def test_a_valid_ring_outside_the_folder_is_refused(setup, tmp_path):
    folder, ring, event, reader = setup
    other = FrameRing.create(str(tmp_path / "elsewhere"), "cam", 16, 12)
    try:
        written = other.write(np.zeros((12, 16, 3), np.uint8), 1.0)
        with pytest.raises(ValueError, match="ring folder"):
            reader.read(with_path(event, other.path, written.slot))
    finally:
        other.close()
    for path in ("/etc/passwd", "/dev/zero", "cam.ring", os.path.dirname(folder) + "/cam.ring", folder,
                 os.path.join(folder, "cam.ring", "x.ring")):
        with pytest.raises(ValueError):
            reader.read(with_path(event, path))


def test_a_symlink_out_of_the_folder_is_refused(setup, tmp_path):
    folder, ring, event, reader = setup
    outside = FrameRing.create(str(tmp_path / "outside"), "secret", 16, 12)
    try:
        outside.write(np.zeros((12, 16, 3), np.uint8), 1.0)
        link = os.path.join(folder, "link.ring")
        os.symlink(outside.path, link)
        with pytest.raises(ValueError, match="ring folder"):
            reader.read(with_path(event, link))
        os.symlink("/etc/passwd", os.path.join(folder, "passwd.ring"))
        with pytest.raises(ValueError):
            reader.read(with_path(event, os.path.join(folder, "passwd.ring")))
    finally:
        outside.close()


def test_a_ring_read_before_then_swapped_for_a_symlink_out_of_the_folder_is_refused(setup, tmp_path):
    # The reader remembers where an event path led (no realpath walk per frame): that memory must not
    # outlive the file. Swapped for a symlink to a ring outside, the path is checked again, refused.
    folder, ring, event, reader = setup
    assert int(reader.read(event).mean()) == 7 and reader.still_valid(event)
    outside = FrameRing.create(str(tmp_path / "outside"), "cam", 16, 12)
    try:
        outside.write(np.full((12, 16, 3), 99, np.uint8), 1.0)
        os.replace(ring.path, os.path.join(folder, "moved-away"))
        os.symlink(outside.path, ring.path)
        with pytest.raises(ValueError, match="ring folder"):
            reader.read(event)
        assert not reader.still_valid(event)
    finally:
        outside.close()


def test_a_ring_folder_that_is_itself_a_symlink_works(setup, tmp_path):
    folder, ring, event, _ = setup
    alias = str(tmp_path / "alias")
    os.symlink(folder, alias)
    with FrameReader(alias) as reader:
        assert int(reader.read(event).mean()) == 7
        assert int(reader.read(with_path(event, os.path.join(alias, "cam.ring"))).mean()) == 7


def test_a_geometry_that_does_not_match_the_header_is_refused(setup):
    folder, ring, event, reader = setup
    for change in ({"width": 17}, {"height": 1}, {"pixel_format": "gray8"}, {"pixel_format": "rgb24"}):
        with pytest.raises(ValueError, match="holds 16x12 bgr24"):
            reader.read(dict(event, **change))
    with pytest.raises(ValueError, match="slot"):
        reader.read(with_path(event, ring.path, slot=4))


@pytest.mark.parametrize("change", [{"seq": "0"}, {"seq": True}, {"seq": -1}, {"shm": None},
                                    {"shm": {"path": 5, "slot": 0}}, {"transport": "carrier-pigeon"},
                                    {"shm": {"path": "/dev/shm/ggvision/a\x00.ring", "slot": 0}}])
def test_malformed_events_are_value_errors(setup, change):
    folder, ring, event, reader = setup
    with pytest.raises(ValueError):
        reader.read(dict(event, **change))
    assert reader.still_valid(dict(event, **change)) is False


def test_files_in_the_folder_that_are_not_rings_are_refused(setup):
    folder, ring, event, reader = setup
    garbage = os.path.join(folder, "garbage.ring")
    with open(garbage, "wb") as f:
        f.write(b"NOTARING" + bytes(200))
    with pytest.raises(ValueError, match="magic"):
        reader.read(with_path(event, garbage))
    with open(ring.path, "rb") as f:
        truncated = f.read(64 + 100)  # a real header, slots cut off
    with open(os.path.join(folder, "short.ring"), "wb") as f:
        f.write(truncated)
    with pytest.raises(ValueError, match="truncated"):
        reader.read(with_path(event, os.path.join(folder, "short.ring")))
    open(os.path.join(folder, "empty.ring"), "wb").close()
    with pytest.raises(ValueError, match="not a frame ring"):
        reader.read(with_path(event, os.path.join(folder, "empty.ring")))
    os.mkdir(os.path.join(folder, "dir.ring"))
    with pytest.raises(ValueError, match="regular file"):
        reader.read(with_path(event, os.path.join(folder, "dir.ring")))
    os.mkfifo(os.path.join(folder, "fifo.ring"))  # must not block the reader
    with pytest.raises(ValueError):
        reader.read(with_path(event, os.path.join(folder, "fifo.ring")))


def test_a_missing_ring_is_unavailable_not_an_error_about_the_path(setup):
    folder, ring, event, reader = setup
    with pytest.raises(FrameUnavailable):
        reader.read(with_path(event, os.path.join(folder, "gone.ring")))
