"""`python -m ggvision.search`: build a reference index from a folder of images, and query it.

    python -m ggvision.search index --model MODEL_DIR --images FOLDER --out INDEX.npz
    python -m ggvision.search query --index INDEX.npz --message FILE.json [-k 5]
    python -m ggvision.search query --index INDEX.npz --image IMAGE --model MODEL_DIR [-k 5]

`index` prints one JSON summary line; `query` prints one JSON line per query:
`{"query": {...}, "matches": [{"reference": name, "similarity": s}, ...]}`. Warnings go to stderr.
Every error is one line on stderr and exit code 2 (no traceback).
"""

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Dict, List, NoReturn, Optional, Sequence, TextIO, Tuple

import numpy as np

from ..contracts import ContractError, validate
from ..features.message import SCHEMA, message_vector
from .index import ReferenceIndex, SearchError, build_index, featurize_image, image_files

if TYPE_CHECKING:
    from ..featurizer import Featurizer

PROG = "python -m ggvision.search"
EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_ERROR)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog=PROG, description="Visual search, locally: a reference index of images and "
                                         "the nearest references for a ggvision.features/1 message.")
    commands = top.add_subparsers(dest="command", metavar="{index,query}", parser_class=_Parser)
    commands.required = True
    build = commands.add_parser("index", help="featurize a folder of images into an index file")
    build.add_argument("--model", required=True, help="the featurizer model folder (model.yaml + model)")
    build.add_argument("--images", required=True, help="folder of jpg/png/bmp images (subfolders too)")
    build.add_argument("--out", required=True, help="the index file to write (.npz)")
    query = commands.add_parser("query", help="the k nearest references for a message or an image")
    query.add_argument("--index", required=True, help="an index file written by `index`")
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument("--message", help="a ggvision.features/1 message (JSON, or JSON lines: one "
                                          "answer a line); - reads stdin")
    source.add_argument("--image", help="an image to featurize now (needs --model)")
    query.add_argument("--model", help="the featurizer model folder, for --image")
    query.add_argument("-k", type=_positive, default=5, help="references per query (default 5)")
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "index":
            return _index(args.model, args.images, args.out)
        if args.image is not None and not args.model:
            raise SearchError("--image needs --model: the featurizer the index was built with")
        if args.image is None and args.model:
            raise SearchError("--model is only for --image (a message already holds its vector)")
        return _query(args)
    except (SearchError, ContractError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130


def _fail(text: str) -> int:
    sys.stderr.write(f"{PROG}: error: {' '.join(text.split())}\n")
    return EXIT_ERROR


def _load_featurizer(model_dir: str) -> "Featurizer":
    from ..featurizer import Featurizer
    from ..runtimes import RuntimeLoadError

    try:
        return Featurizer.load(model_dir)
    except (RuntimeLoadError, ValueError, OSError) as error:
        raise SearchError(f"model {model_dir}: {str(error).strip()}") from None


def _index(model_dir: str, folder: str, out: str) -> int:
    def warn(name: str) -> None:
        sys.stderr.write(f"{PROG}: warning: skipped {name}: not a readable image\n")

    image_files(folder)  # a missing folder is reported before the model loads
    with _load_featurizer(model_dir) as featurizer:
        report = build_index(featurizer, folder, on_skip=warn)
    index = report.index
    try:
        index.save(out)
    except OSError as error:
        raise SearchError(f"cannot write the index to {out}: {error.strerror or error}") from None
    _print({"index": out, "images": len(index), "skipped": len(report.skipped),
            "model": {"name": index.model_name, "version": index.model_version}, "dim": index.dim})
    return 0


def _query(args: argparse.Namespace) -> int:
    index = ReferenceIndex.load(args.index)
    if args.image is not None:
        with _load_featurizer(args.model) as featurizer:
            index.check_query(featurizer.dim, str(featurizer.name), str(featurizer.version),
                              what=f"model {args.model}")
            vector = featurize_image(featurizer, args.image)
        _answer(index, {"image": args.image}, vector, args.k)
        return 0
    # Every message is checked before any answer, so a bad line 7 does not leave half an output.
    queries = [_read_query(index, args.message, line, message) for line, message in _messages(args.message)]
    for query, vector in queries:
        _answer(index, query, vector, args.k)
    return 0


def _messages(source: str) -> List[Tuple[Optional[int], Any]]:
    """(line number or None, parsed JSON) of a file holding one JSON message, or JSON lines."""
    text = _read_text(source)
    if not text.strip():
        raise SearchError(f"message {_label(source)} is empty")
    try:
        return [(None, json.loads(text))]
    except json.JSONDecodeError:
        pass
    messages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            messages.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            raise SearchError(f"message {_label(source)} line {number} is not JSON ({error.msg} at "
                              f"column {error.colno})") from None
    return messages


def _read_text(source: str, stdin: Optional[TextIO] = None) -> str:
    if source == "-":
        return (stdin or sys.stdin).read()
    try:
        with open(source, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise SearchError(f"message file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SearchError(f"message file {source} cannot be read ({error})") from None


def _label(source: str) -> str:
    return "on stdin" if source == "-" else source


def _read_query(index: ReferenceIndex, source: str, line: Optional[int],
                message: Any) -> Tuple[Dict[str, Any], np.ndarray]:
    """(the query's description, its vector) of one message, checked against its schema and the index."""
    where = f"message {_label(source)}" + (f" line {line}" if line is not None else "")
    try:
        validate(message, SCHEMA)
        vector = message_vector(message)
    except (ContractError, ValueError) as error:
        raise SearchError(f"{where}: {error}") from None
    model = message["model"]
    index.check_query(int(vector.size), model.get("name"), model.get("version"), what=where)
    query: Dict[str, Any] = {"message": source}
    if line is not None:
        query["line"] = line
    for key in ("thing_name", "camera_id", "seq", "captured_at", "source", "detection"):
        if key in message:
            query[key] = message[key]
    return query, vector


def _answer(index: ReferenceIndex, query: Dict[str, Any], vector: np.ndarray, k: int) -> None:
    _print({"query": query, "matches": [match.to_json() for match in index.nearest(vector, k)]})


def _print(record: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
