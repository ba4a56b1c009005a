"""The weights' identity: one hash of the decoder's (or the image encoder's) parameters,
what exported files record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np

from samcore.config import DecoderConfig, EncoderConfig, encoder_shapes, expected_shapes


def _digest(params: Mapping[str, np.ndarray], keys: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for key in sorted(keys):
        array = np.ascontiguousarray(params[key], np.float32)
        digest.update(f"{key}:{list(array.shape)}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def params_sha256(params: Mapping[str, np.ndarray], config: DecoderConfig) -> str:
    """Hex sha256 of the decoder's parameters as float32 (sorted keys, each key, shape and bytes)."""
    return _digest(params, expected_shapes(config))


def encoder_params_sha256(params: Mapping[str, np.ndarray], config: EncoderConfig) -> str:
    """Hex sha256 of the image encoder's parameters as float32, as ``params_sha256``."""
    return _digest(params, encoder_shapes(config))
