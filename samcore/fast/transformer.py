"""The two-way transformer of the fast formulation: the spec's layers, with the image-side
attention reassociated and each layer's image update kept for ``upscale_input``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from samcore.config import TRANSFORMER, DecoderConfig
from samcore.fast.attention import (
    ImageUpdate,
    attend_cached_image,
    attend_image,
    image_attention_cached,
    image_attention_reassociated,
    self_attention,
)
from samcore.fast.features import ImageFeatures
from samcore.fast.ops import layer_norm, layer_norm_with_stats
from samcore.spec.transformer import mlp_block

T = TRANSFORMER


def _norm(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    return layer_norm(x, params[f"{key}.weight"], params[f"{key}.bias"], eps=1e-5)


def _tokens(x: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """Tokens [B, N, C] -> the ``indices`` [B, len(indices), C], as slices of consecutive runs
    concatenated (graphs get Slice and Concat nodes, which every target lowers, not a Gather)."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = [x[:, run[0] : run[-1] + 1] for run in runs]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def transformer(
    params: Mapping[str, np.ndarray],
    features: ImageFeatures,
    image: np.ndarray,
    block0: Sequence[np.ndarray],
    point_embedding: np.ndarray,
    config: DecoderConfig,
    key_bias: np.ndarray | None,
    outputs: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[ImageUpdate]]:
    """The two-way transformer on image tokens [1|B, HW, C] with block 0's image-side
    projections ``block0`` and a score bias per token as a key [B, N] (None: none)
    -> (tokens [B, N', C], image tokens [B, HW, C], each layer's ``ImageUpdate``).

    ``outputs``: the tokens whose outputs are wanted (N' of them, in that order; None: all
    N). The final attention's queries are only those tokens (each query attends to the
    image alone, and the norm after it is per token): the decoder reads the IoU token and
    the returned masks' tokens, so the point tokens and unused mask tokens skip its two
    products with the image tokens."""
    heads, pe = config.num_heads, features.pe
    queries, qpe = point_embedding, point_embedding
    updates = []
    for i in range(config.depth):
        layer = f"{T}layers.{i}"
        if i == 0:
            queries = self_attention(params, f"{layer}.self_attn", queries, queries, heads, key_bias)
        else:
            queries = queries + self_attention(params, f"{layer}.self_attn", queries + qpe, queries, heads, key_bias)
        queries = _norm(params, f"{layer}.norm1", queries)
        t2i, i2t = f"{layer}.cross_attn_token_to_image", f"{layer}.cross_attn_image_to_token"
        if i == 0:
            out = attend_cached_image(params, t2i, queries + qpe, block0[0], block0[1], heads)
        else:
            image_pe = image + pe
            out = attend_image(params, t2i, queries + qpe, image, image_pe, heads)
        queries = _norm(params, f"{layer}.norm2", queries + out)
        queries = _norm(params, f"{layer}.norm3", queries + mlp_block(params, f"{layer}.mlp", queries))
        if i == 0:
            weights, u = image_attention_cached(params, i2t, block0[2], queries + qpe, queries, heads, key_bias)
        else:
            weights, u = image_attention_reassociated(params, i2t, image_pe, queries + qpe, queries, heads, key_bias)
        norm = f"{layer}.norm4"
        image, mean, inv_std = layer_norm_with_stats(
            image + weights.transpose(0, 2, 1) @ u, params[f"{norm}.weight"], params[f"{norm}.bias"], eps=1e-5
        )
        updates.append(ImageUpdate(weights, u, mean, inv_std))
    if outputs is not None:
        queries, qpe = _tokens(queries, outputs), _tokens(qpe, outputs)
    out = attend_image(params, f"{T}final_attn_token_to_image", queries + qpe, image, image + pe, heads)
    return _norm(params, f"{T}norm_final_attn", queries + out), image, updates
