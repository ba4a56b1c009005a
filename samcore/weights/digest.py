"""The weights' identity: one hash of the decoder's parameters, what exported files record."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from samcore.config import DecoderConfig, expected_shapes


def params_sha256(params: Mapping[str, np.ndarray], config: DecoderConfig) -> str:
    """Hex sha256 of the decoder's parameters as float32 (sorted keys, each key, shape and bytes)."""
    digest = hashlib.sha256()
    for key in sorted(expected_shapes(config)):
        array = np.ascontiguousarray(params[key], np.float32)
        digest.update(f"{key}:{list(array.shape)}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
