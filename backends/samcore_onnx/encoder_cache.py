"""On-disk cache of exported image encoder graphs, one per weights hash and opset.

Beside the decoder's (``samcore_onnx.cache``), in the same folder: ``$SAMCORE_CACHE``
when set, else ``~/.cache/samcore/onnx``. A name holds the weights hash, the frame,
the opset, samcore's version and the exporting code's fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

import samcore
from samcore.cache import cache_dir
from samcore.encoder_config import EncoderConfig
from samcore_onnx.encoder_export import export_encoder_onnx
from samcore_onnx.export import exporter_fingerprint

#: Encoder exports this process has run (tests read it to prove a cache hit).
export_count = 0


def encoder_cache_path(weights_sha256: str, config: EncoderConfig, *, opset: int) -> Path:
    """The cache file of one image encoder export."""
    name = (f"encoder-{weights_sha256}-{config.img_size}-opset{opset}"
            f"-samcore{samcore.__version__}-{exporter_fingerprint()}.onnx")
    return cache_dir("onnx") / name


def export_encoder_to_cache(
    params: Mapping[str, np.ndarray], config: EncoderConfig, weights_sha256: str, *, opset: int
) -> Path:
    """Export the image encoder into the cache (replacing any file there) and return its path."""
    global export_count
    path = encoder_cache_path(weights_sha256, config, opset=opset)
    export_encoder_onnx(params, config, path, opset=opset)
    export_count += 1
    return path
