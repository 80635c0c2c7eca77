"""docs/visual-search.md: its Lambda decoding snippet reads every encoding as ggvision does."""

import os
import re

import numpy as np
import pytest
from ggvision.features import ENCODINGS, message, message_vector
from search_helpers import ROOT

DOC = os.path.join(ROOT, "docs", "visual-search.md")


def snippet():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    blocks = [block for block in re.findall(r"```python\n(.*?)```", text, re.S)
              if "message_vector_plain" in block]
    assert len(blocks) == 1
    namespace = {}
    exec(compile(blocks[0], DOC, "exec"), namespace)
    return namespace["message_vector_plain"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_lambda_snippet_decodes_every_encoding(encoding):
    rng = np.random.default_rng(3)
    vector = rng.normal(size=576).astype(np.float32)
    vector /= np.linalg.norm(vector)
    sent = message(vector, camera_id="front", seq=1, captured_at=1.0,
                   model={"name": "mobilenetv2-features", "version": "1"}, encoding=encoding)
    decoded = snippet()(sent)
    assert len(decoded) == 576
    np.testing.assert_array_equal(np.array(decoded, np.float32), message_vector(sent))
