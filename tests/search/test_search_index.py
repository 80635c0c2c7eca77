"""ReferenceIndex: built from real images with the real featurizer, saved, loaded and queried."""

import os

import cv2
import numpy as np
import pytest
from ggvision.features import ENCODINGS, BoxSource, message, message_vector
from ggvision.search import ReferenceIndex, SearchError, build_index, image_files
from search_helpers import BROKEN, GALLERY


@pytest.fixture(scope="module")
def built(featurizer, gallery):
    skipped = []
    report = build_index(featurizer, gallery, on_skip=skipped.append)
    return report, skipped


def features_message(vector, encoding, model=None):
    return message(vector, camera_id="front", seq=7, captured_at=1763860000.0,
                   model=model or {"name": "mobilenetv2-features", "version": "1"},
                   source=BoxSource(box=[0.1, 0.1, 0.8, 0.8], class_id=1, score=0.9, label="thing"),
                   encoding=encoding, ts=1763860000.5)


def test_build_featurizes_every_readable_image_with_relative_names(built, featurizer, gallery):
    report, skipped = built
    index = report.index
    assert index.names == tuple(sorted(GALLERY))  # notes.txt ignored, broken.png skipped
    assert "sub/apple.jpg" in index.names
    assert report.skipped == (BROKEN,) and skipped == [BROKEN]
    assert (index.dim, index.model_name, index.model_version) == (576, "mobilenetv2-features", "1")
    assert index.vectors.dtype == np.float32 and index.vectors.shape == (len(GALLERY), 576)
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    # The component's own call on the same BGR image gives the same vector.
    expected = featurizer.features([cv2.imread(os.path.join(gallery, "sub", "apple.jpg"))])[0]
    np.testing.assert_allclose(index.vectors[index.names.index("sub/apple.jpg")], expected, atol=1e-6)


def test_save_and_load_round_trip_at_the_exact_path(built, tmp_path):
    index = built[0].index
    path = str(tmp_path / "references.index")  # no .npz added
    index.save(path)
    assert os.listdir(str(tmp_path)) == ["references.index"]
    loaded = ReferenceIndex.load(path)
    assert loaded.names == index.names
    assert (loaded.model_name, loaded.model_version) == ("mobilenetv2-features", "1")
    np.testing.assert_array_equal(loaded.vectors, index.vectors)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_crop_mirror_through_a_message_finds_its_reference_first(built, featurizer, query_images, encoding):
    index = built[0].index
    for name, image in query_images.items():
        sent = features_message(featurizer.features([image])[0], encoding)
        matches = index.nearest(message_vector(sent), k=3)
        assert matches[0].reference == name, (encoding, name, matches)
        assert matches[0].similarity > matches[1].similarity


def test_nearest_orders_by_similarity_and_caps_k(built):
    index = built[0].index
    reference = index.vectors[2]
    matches = index.nearest(reference * 3.0, k=100)  # not normalised: normalised here
    assert len(matches) == len(index)
    assert matches[0].reference == index.names[2] and matches[0].similarity == pytest.approx(1.0, abs=1e-6)
    similarities = [match.similarity for match in matches]
    assert similarities == sorted(similarities, reverse=True)
    assert len(index.nearest(reference, k=1)) == 1
    with pytest.raises(SearchError, match="k 0 is not allowed"):
        index.nearest(reference, k=0)


def test_another_dimension_or_model_is_refused_clearly(built):
    index = built[0].index
    with pytest.raises(SearchError, match=r"dimension 4 \(model tiny 2\) but the index has dimension 576 "
                                          r"\(model mobilenetv2-features 1\)"):
        index.check_query(4, "tiny", "2", what="the message")
    with pytest.raises(SearchError, match="has dimension 4 but the index has dimension 576"):
        index.nearest(np.ones(4, np.float32))
    with pytest.raises(SearchError, match="comes from model resnet 1 but the index was built with model "
                                          "mobilenetv2-features 1: their vectors are not comparable"):
        index.check_query(576, "resnet", "1")
    with pytest.raises(SearchError, match="model mobilenetv2-features 2"):
        index.check_query(576, "mobilenetv2-features", "2")
    index.check_query(576, "mobilenetv2-features", "1")


def test_bad_folders_and_files_are_one_clear_error(featurizer, tmp_path):
    with pytest.raises(SearchError, match="image folder .*missing does not exist"):
        image_files(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(SearchError, match="holds no images"):
        build_index(featurizer, str(empty))
    (empty / "a.jpg").write_bytes(b"garbage")
    with pytest.raises(SearchError, match="none of its 1 image files could be read"):
        build_index(featurizer, str(empty))
    with pytest.raises(SearchError, match="does not exist"):
        ReferenceIndex.load(str(tmp_path / "none.npz"))
    with pytest.raises(SearchError, match="not an .npz file"):
        ReferenceIndex.load(str(empty / "a.jpg"))
    other = str(tmp_path / "other.npz")
    with open(other, "wb") as f:
        np.savez(f, vectors=np.ones((2, 3), np.float32))
    with pytest.raises(SearchError, match="is not a ggvision.search-index/1 index"):
        ReferenceIndex.load(other)
