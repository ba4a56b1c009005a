"""An ``Encoder`` as the service's batch callable and model description."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from samcore.content_key import preprocessing_version
from samcore.embedding import Embedding
from samcore.encoder import Encoder
from samcore.serve.batching import EncodeBatch
from samcore.serve.model import ModelInfo


def batch_encoder(encoder: Encoder) -> EncodeBatch:
    """images (uint8 [H, W, 3] RGB each) -> their Embeddings, in one backend call
    (float32 [B, 3, S, S] in, [B, C, g, g] out)."""

    def encode_batch(images: Sequence[np.ndarray]) -> list[Embedding]:
        prepared = [encoder.preprocess(image) for image in images]
        features = encoder.encode_images(np.concatenate([frame for frame, _, _ in prepared]))
        return [Embedding(features[i : i + 1], original, resized, encoder.model_id)
                for i, (_, original, resized) in enumerate(prepared)]

    return encode_batch


def describe_model(encoder: Encoder, weights: Path, name: str | None = None) -> ModelInfo:
    """The ModelInfo of ``encoder`` loaded from ``weights`` (its id: the file's sha256)."""
    c = encoder.config
    return ModelInfo(Path(weights), encoder.model_id, name or Path(weights).stem, c.img_size,
                     (c.grid_size, c.grid_size), c.out_chans, preprocessing_version())
