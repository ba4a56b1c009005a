"""SAM's two-way transformer: prompt tokens and image tokens attend to each other.

Mirrors ``segment_anything/modeling/transformer.py``. Shapes: B prompts, N tokens,
HW image tokens, C channels, heads of width C' / num_heads where C' is the
attention's internal width (C, or C / downsample rate for cross-attention).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from samcore.spec.ops import layer_norm, linear, relu, softmax


def _linear(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    return linear(x, params[f"{key}.weight"], params[f"{key}.bias"])


def _norm(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    return layer_norm(x, params[f"{key}.weight"], params[f"{key}.bias"], eps=1e-5)


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """[B, N, C'] -> [B, heads, N, C'/heads]."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """[B, heads, N, C'/heads] -> [B, N, C']."""
    b, h, n, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, n, h * d)


def attention(
    params: Mapping[str, np.ndarray],
    key: str,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    num_heads: int,
) -> np.ndarray:
    """Multi-head attention with projections ``{key}.{q,k,v,out}_proj``.

    q [B, Nq, C], k and v [B, Nk, C] -> [B, Nq, C]; scores scaled by 1/sqrt(head width).
    """
    q = split_heads(_linear(params, f"{key}.q_proj", q), num_heads)
    k = split_heads(_linear(params, f"{key}.k_proj", k), num_heads)
    v = split_heads(_linear(params, f"{key}.v_proj", v), num_heads)
    scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(q.shape[-1]))
    return _linear(params, f"{key}.out_proj", merge_heads(softmax(scores) @ v))


def mlp_block(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    """``lin2(relu(lin1(x)))``: x [..., C] -> [..., C]."""
    return _linear(params, f"{key}.lin2", relu(_linear(params, f"{key}.lin1", x)))


def two_way_block(
    params: Mapping[str, np.ndarray],
    key: str,
    queries: np.ndarray,
    keys: np.ndarray,
    query_pe: np.ndarray,
    key_pe: np.ndarray,
    num_heads: int,
    skip_first_layer_pe: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One two-way block: queries [B, N, C] (tokens), keys [B, HW, C] (image).

    (1) token self-attention (block 0: no positional encoding and no residual),
    (2) tokens attend to the image, (3) MLP on tokens, (4) the image attends to
    tokens. Each step adds its residual and LayerNorms. Returns (queries, keys).
    """
    if skip_first_layer_pe:
        queries = attention(params, f"{key}.self_attn", queries, queries, queries, num_heads)
    else:
        q = queries + query_pe
        queries = queries + attention(params, f"{key}.self_attn", q, q, queries, num_heads)
    queries = _norm(params, f"{key}.norm1", queries)

    q, k = queries + query_pe, keys + key_pe
    queries = queries + attention(params, f"{key}.cross_attn_token_to_image", q, k, keys, num_heads)
    queries = _norm(params, f"{key}.norm2", queries)

    queries = _norm(params, f"{key}.norm3", queries + mlp_block(params, f"{key}.mlp", queries))

    q, k = queries + query_pe, keys + key_pe
    keys = keys + attention(params, f"{key}.cross_attn_image_to_token", k, q, queries, num_heads)
    keys = _norm(params, f"{key}.norm4", keys)
    return queries, keys


def two_way_transformer(
    params: Mapping[str, np.ndarray],
    key: str,
    image_embedding: np.ndarray,
    image_pe: np.ndarray,
    point_embedding: np.ndarray,
    depth: int,
    num_heads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The two-way transformer.

    image_embedding [B, C, h, w], image_pe [C, h, w], point_embedding [B, N, C]
    -> (tokens [B, N, C], image tokens [B, hw, C]).
    """
    b, c, h, w = image_embedding.shape
    keys = image_embedding.reshape(b, c, h * w).transpose(0, 2, 1)
    key_pe = image_pe.reshape(1, c, h * w).transpose(0, 2, 1)
    queries = point_embedding
    for i in range(depth):
        queries, keys = two_way_block(
            params, f"{key}layers.{i}", queries, keys, point_embedding, key_pe, num_heads, i == 0
        )
    q, k = queries + point_embedding, keys + key_pe
    queries = queries + attention(params, f"{key}final_attn_token_to_image", q, k, keys, num_heads)
    return _norm(params, f"{key}norm_final_attn", queries), keys
