"""`python -m ggvision.search` as a user runs it: a subprocess with PYTHONPATH=shared."""

import json
import os
import subprocess
import sys

import cv2
import pytest
from ggvision.features import ENCODINGS, BoxSource, message
from search_helpers import BROKEN, GALLERY, MODEL, SHARED


def run(*args, stdin=None):
    env = dict(os.environ, PYTHONPATH=SHARED)
    return subprocess.run([sys.executable, "-m", "ggvision.search", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120)


def lines(text):
    return [json.loads(line) for line in text.splitlines()]


def features_message(vector, encoding, model=None, seq=7):
    return message(vector, camera_id="front", seq=seq, captured_at=1763860000.0,
                   model=model or {"name": "mobilenetv2-features", "version": "1", "runtime": "onnx"},
                   source=BoxSource(box=[0.1, 0.1, 0.8, 0.8], class_id=1, score=0.9),
                   encoding=encoding, ts=1763860000.5)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("python -m ggvision.search: error: ")
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="module")
def index_file(gallery, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("index") / "references.npz")
    result = run("index", "--model", MODEL, "--images", gallery, "--out", path)
    assert result.returncode == 0, result.stderr
    summary = lines(result.stdout)
    assert summary == [{"index": path, "images": len(GALLERY), "skipped": 1,
                        "model": {"name": "mobilenetv2-features", "version": "1"}, "dim": 576}]
    assert f"warning: skipped {BROKEN}: not a readable image" in result.stderr
    return path


def test_json_lines_file_in_every_encoding_finds_each_reference_first(index_file, featurizer, query_images,
                                                                      tmp_path):
    sent, expected = [], []
    for encoding in ENCODINGS:
        for name, image in query_images.items():
            sent.append(features_message(featurizer.features([image])[0], encoding, seq=len(sent)))
            expected.append(name)
    path = tmp_path / "messages.jsonl"
    path.write_text("".join(json.dumps(one) + "\n" for one in sent))
    result = run("query", "--index", index_file, "--message", str(path), "-k", "3")
    assert result.returncode == 0, result.stderr
    answers = lines(result.stdout)
    assert len(answers) == len(sent)
    for number, (answer, name) in enumerate(zip(answers, expected), start=1):
        assert answer["query"]["line"] == number and answer["query"]["seq"] == number - 1
        assert answer["query"]["source"] == "box" and answer["query"]["message"] == str(path)
        assert len(answer["matches"]) == 3
        assert answer["matches"][0]["reference"] == name, answer
        similarities = [match["similarity"] for match in answer["matches"]]
        assert similarities == sorted(similarities, reverse=True)


def test_one_message_on_stdin(index_file, featurizer, query_images):
    vector = featurizer.features([query_images["butterfly.jpg"]])[0]
    result = run("query", "--index", index_file, "--message", "-",
                 stdin=json.dumps(features_message(vector, "csv"), indent=2))  # one message over many lines
    assert result.returncode == 0, result.stderr
    (answer,) = lines(result.stdout)
    assert "line" not in answer["query"] and answer["query"]["message"] == "-"
    assert answer["matches"][0]["reference"] == "butterfly.jpg" and len(answer["matches"]) == 5


def test_an_image_featurized_on_the_spot(index_file, query_images, tmp_path):
    path = str(tmp_path / "query.png")
    cv2.imwrite(path, query_images["sub/apple.jpg"])
    result = run("query", "--index", index_file, "--image", path, "--model", MODEL, "-k", "2")
    assert result.returncode == 0, result.stderr
    (answer,) = lines(result.stdout)
    assert answer["query"] == {"image": path}
    assert [match["reference"] for match in answer["matches"]][0] == "sub/apple.jpg"
    assert len(answer["matches"]) == 2


def test_a_message_from_another_models_dimension_is_refused(index_file, tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(features_message([0.5, 0.5, 0.5, 0.5], "json",
                                                model={"name": "tiny-features", "version": "2"})))
    assert_one_line_error(run("query", "--index", index_file, "--message", str(path)),
                          "has dimension 4 (model tiny-features 2) but the index has dimension 576 "
                          "(model mobilenetv2-features 1)")


def test_another_model_at_the_same_dimension_is_refused(index_file, featurizer, query_images):
    vector = featurizer.features([query_images["baboon.jpg"]])[0]
    sent = features_message(vector, "base64-float16", model={"name": "resnet-features", "version": "1"})
    assert_one_line_error(run("query", "--index", index_file, "--message", "-", stdin=json.dumps(sent)),
                          "comes from model resnet-features 1", "not comparable")


def test_malformed_messages_are_one_line_errors(index_file, featurizer, query_images, tmp_path):
    good = features_message(featurizer.features([query_images["baboon.jpg"]])[0], "base64-float32")
    no_ts = dict(good)
    del no_ts["ts"]
    assert_one_line_error(run("query", "--index", index_file, "--message", "-", stdin=json.dumps(no_ts)),
                          "message on stdin:", "'ts' is a required property")
    wrong_dim = dict(good, dim=100)
    assert_one_line_error(run("query", "--index", index_file, "--message", "-", stdin=json.dumps(wrong_dim)),
                          "the vector has 576 values, but the message's dim is 100")
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(good) + "\n{not json\n")
    assert_one_line_error(run("query", "--index", index_file, "--message", str(path)),
                          f"message {path} line 2 is not JSON")
    assert_one_line_error(run("query", "--index", index_file, "--message", "-", stdin="\n"), "is empty")
    assert_one_line_error(run("query", "--index", index_file, "--message", str(tmp_path / "absent.json")),
                          "does not exist")


def test_folder_index_and_usage_errors_are_one_line(gallery, index_file, tmp_path):
    out = str(tmp_path / "out.npz")
    assert_one_line_error(run("index", "--model", MODEL, "--images", str(tmp_path / "missing"), "--out", out),
                          "image folder", "missing does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run("index", "--model", MODEL, "--images", str(empty), "--out", out),
                          "holds no images")
    assert_one_line_error(run("index", "--model", str(tmp_path / "nomodel"), "--images", gallery,
                              "--out", out), "model ")
    assert not os.path.exists(out)
    assert_one_line_error(run("query", "--index", str(tmp_path / "none.npz"), "--message", "-"),
                          "does not exist", "python -m ggvision.search index")
    assert_one_line_error(run("query", "--index", index_file, "--image", "x.png"), "--image needs --model")
    assert_one_line_error(run("query", "--index", index_file), "one of the arguments --message --image")
    assert_one_line_error(run("query", "--index", index_file, "--message", "-", "--model", MODEL),
                          "--model is only for --image")
    assert_one_line_error(run("query", "--index", index_file, "--message", "-", "-k", "0"), "argument -k")
    assert_one_line_error(run("query", "--index", index_file, "--image", str(tmp_path / "none.png"),
                              "--model", MODEL), "image", "none.png does not exist")
