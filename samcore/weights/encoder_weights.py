"""The image encoder's weights: read only ``image_encoder.*`` from safetensors, validated."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from safetensors import safe_open

from samcore.encoder_config import IMAGE_ENCODER, EncoderConfig, encoder_shapes, is_rel_pos_key
from samcore.errors import WeightsError
from samcore.weights.safetensors_io import check_part, read_header, safetensors_dtype


def validate_encoder(shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str], config: EncoderConfig) -> None:
    """Raise a WeightsError naming every missing, unexpected, mis-shaped or mis-typed
    ``image_encoder.*`` key; relative-position tables may have any length (interpolated)."""
    expected = {k: (-1, *s[1:]) if is_rel_pos_key(k) else s for k, s in encoder_shapes(config).items()}
    check_part(shapes, dtypes, expected, (IMAGE_ENCODER,), "image encoder")


def encoder_params(
    params: Mapping[str, np.ndarray], config: EncoderConfig | None = None
) -> tuple[dict[str, np.ndarray], EncoderConfig]:
    """Validate the ``image_encoder.*`` part of a parameter mapping (other keys are ignored).

    Returns (official key -> float32 array, config); ``config`` defaults to the one
    inferred from the shapes."""
    arrays = {k: np.asarray(v) for k, v in params.items() if k.startswith(IMAGE_ENCODER)}
    if not arrays:
        raise WeightsError(f"params: expected image encoder weights ({IMAGE_ENCODER}*), got none")
    config = config or EncoderConfig.from_params(arrays)
    validate_encoder({k: a.shape for k, a in arrays.items()}, {k: safetensors_dtype(a) for k, a in arrays.items()},
                     config)
    return {k: a.astype(np.float32, copy=False) for k, a in arrays.items()}, config


def load_encoder_params(
    path: str | os.PathLike, config: EncoderConfig | None = None
) -> tuple[dict[str, np.ndarray], EncoderConfig]:
    """Read and validate the image encoder (``image_encoder.*``) of a safetensors file.

    Only the encoder's tensors are read. ``config`` defaults to the one inferred from
    the shapes and metadata. Returns (official key -> float32 array, config).
    """
    shapes, dtypes, metadata = read_header(path)
    ours = {k: v for k, v in shapes.items() if k.startswith(IMAGE_ENCODER)}
    if not ours:
        raise WeightsError(f"{os.fspath(path)}: no image encoder weights ({IMAGE_ENCODER}*): a decoder-only file?")
    config = config or EncoderConfig.from_shapes(ours, metadata)
    validate_encoder(shapes, dtypes, config)
    with safe_open(os.fspath(path), framework="np") as f:
        params = {key: f.get_tensor(key).astype(np.float32, copy=False) for key in ours}
    return params, config
