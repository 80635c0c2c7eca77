"""The model folder: `ModelSpec` (input geometry, normalisation, output layout, labels) and its loader."""

from .folder import load_model_spec
from .labels import read_labels
from .model_yaml import parse_model_yaml
from .spec import CHANNEL_ORDERS, DTYPES, LAYOUTS, OUTPUT_LAYOUTS, RESIZES, ModelSpec

__all__ = ["ModelSpec", "load_model_spec", "parse_model_yaml", "read_labels", "LAYOUTS", "CHANNEL_ORDERS",
           "RESIZES", "DTYPES", "OUTPUT_LAYOUTS"]
