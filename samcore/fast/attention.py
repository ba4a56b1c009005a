"""Attention in the fast formulation: reassociated products with the image tokens, the
per-image projections of block 0 reused, and filler tokens masked out as keys.

Shapes: B prompts, N tokens, HW image tokens, C channels, heads of width d.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from samcore.spec.ops import linear, softmax
from samcore.spec.transformer import attention, merge_heads, split_heads

Params = Mapping[str, np.ndarray]


#: Added to a filler token's attention scores: exp(-1e30 - max) is exactly 0 in float32.
FILLER_SCORE = np.float32(-1e30)


def filler_bias(token_mask: np.ndarray) -> np.ndarray:
    """Score bias of each token as an attention key: token_mask [B, N] (1 real, 0 filler)
    -> [B, N], 0 for real tokens and ``FILLER_SCORE`` for fillers."""
    return (np.float32(1) - token_mask) * FILLER_SCORE


def self_attention(
    params: Params, key: str, q: np.ndarray, v: np.ndarray, heads: int, key_bias: np.ndarray | None
) -> np.ndarray:
    """Token self-attention (queries = keys = ``q`` [B, N, C], values ``v``) with a score bias per
    key token [B, N] (None: none) -> [B, N, C]; ``spec.transformer.attention`` otherwise."""
    if key_bias is None:
        return attention(params, key, q, q, v, heads)
    qh = split_heads(linear(q, params[f"{key}.q_proj.weight"], params[f"{key}.q_proj.bias"]), heads)
    kh = split_heads(linear(q, params[f"{key}.k_proj.weight"], params[f"{key}.k_proj.bias"]), heads)
    vh = split_heads(linear(v, params[f"{key}.v_proj.weight"], params[f"{key}.v_proj.bias"]), heads)
    scores = (qh @ kh.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(qh.shape[-1]))
    scores = scores + key_bias[:, None, None, :]
    return linear(merge_heads(softmax(scores) @ vh), params[f"{key}.out_proj.weight"], params[f"{key}.out_proj.bias"])


def attend_cached_image(
    params: Params, key: str, q: np.ndarray, image_keys: np.ndarray, image_values: np.ndarray, heads: int
) -> np.ndarray:
    """Tokens [B, N, C] attend to projected image keys/values [1|B, heads, HW, d] -> [B, N, C]."""
    qh = split_heads(linear(q, params[f"{key}.q_proj.weight"], params[f"{key}.q_proj.bias"]), heads)
    scores = (qh / np.float32(np.sqrt(qh.shape[-1]))) @ image_keys.transpose(0, 1, 3, 2)
    out = merge_heads(softmax(scores) @ image_values)
    return linear(out, params[f"{key}.out_proj.weight"], params[f"{key}.out_proj.bias"])


def attend_image(
    params: Params, key: str, q: np.ndarray, image: np.ndarray, image_pe: np.ndarray, heads: int
) -> np.ndarray:
    """Tokens [B, N, C] attend to image tokens [B, HW, C] (keys from ``image_pe`` = image + pe),
    reassociated."""
    b, n, _ = q.shape
    wk, wv = params[f"{key}.k_proj.weight"], params[f"{key}.v_proj.weight"]  # [C', C]
    d = wk.shape[0] // heads
    qh = split_heads(linear(q, params[f"{key}.q_proj.weight"], params[f"{key}.q_proj.bias"]), heads)
    g = ((qh / np.float32(np.sqrt(d))) @ wk.reshape(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads*N, C]
    scores = g @ image_pe.transpose(0, 2, 1)  # [B, heads*N, HW]
    r = (softmax(scores) @ image).reshape(b, heads, n, -1)  # [B, heads, N, C]
    out = r @ wv.reshape(heads, d, -1).transpose(0, 2, 1) + params[f"{key}.v_proj.bias"].reshape(heads, 1, d)
    return linear(merge_heads(out), params[f"{key}.out_proj.weight"], params[f"{key}.out_proj.bias"])


@dataclasses.dataclass(frozen=True)
class ImageUpdate:
    """One layer's image-side step, image' = LayerNorm(image + weights^T u): the image->token
    attention weights [B, R, HW] (token-major, R = heads N), the factor u [B, R, C], and
    the norm's mean and 1/std [B, HW, 1]."""

    weights: np.ndarray
    u: np.ndarray
    mean: np.ndarray
    inv_std: np.ndarray


def image_attention(
    params: Params, key: str, scores: np.ndarray, v_tokens: np.ndarray, heads: int, key_bias: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Image tokens attend to tokens, given the scaled scores [B, heads, N, HW] (token-major:
    each softmax runs down a column) and a score bias per token [B, N] (None: none)
    -> (weights [B, heads*N, HW], u [B, heads*N, C]), the output being weights^T u [B, HW, C].

    ``sum_h A_h (v_h Wo_h^T)``: one [HW, heads*N] x [heads*N, C] product. Softmax rows sum
    to one per head, so the output bias enters as ``bias / heads`` on every row of u.
    """
    b, _, n, hw = scores.shape
    wo = params[f"{key}.out_proj.weight"]  # [C, C']
    d = wo.shape[1] // heads
    vh = split_heads(linear(v_tokens, params[f"{key}.v_proj.weight"], params[f"{key}.v_proj.bias"]), heads)
    u = (vh @ wo.T.reshape(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads*N, C]
    u = u + params[f"{key}.out_proj.bias"] / np.float32(heads)
    if key_bias is not None:
        scores = scores + key_bias[:, None, :, None]
    return softmax(scores, axis=-2).reshape(b, heads * n, hw), u


def token_keys(params: Params, key: str, k_tokens: np.ndarray, heads: int) -> np.ndarray:
    """Token keys [B, N, C] -> [B, heads, N, d], scaled by 1/sqrt(d) for the scores."""
    kh = split_heads(linear(k_tokens, params[f"{key}.k_proj.weight"], params[f"{key}.k_proj.bias"]), heads)
    return kh / np.float32(np.sqrt(kh.shape[-1]))


def image_attention_cached(
    params: Params,
    key: str,
    image_queries: np.ndarray,
    k_tokens: np.ndarray,
    v_tokens: np.ndarray,
    heads: int,
    key_bias: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Image (projected queries [1|B, heads, HW, d]) attends to tokens [B, N, C] -> ``image_attention``'s factors."""
    scores = token_keys(params, key, k_tokens, heads) @ image_queries.transpose(0, 1, 3, 2)  # [B, heads, N, HW]
    return image_attention(params, key, scores, v_tokens, heads, key_bias)


def image_attention_reassociated(
    params: Params,
    key: str,
    image_pe: np.ndarray,
    k_tokens: np.ndarray,
    v_tokens: np.ndarray,
    heads: int,
    key_bias: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Image tokens (queries from ``image_pe`` = image + pe [B, HW, C]) attend to tokens [B, N, C]
    -> ``image_attention``'s factors."""
    b, n, _ = k_tokens.shape
    wq = params[f"{key}.q_proj.weight"]  # [C', C]
    d = wq.shape[0] // heads
    kh = token_keys(params, key, k_tokens, heads)  # [B, heads, N, d]
    p = (kh @ wq.reshape(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads*N, C]
    bias = kh @ params[f"{key}.q_proj.bias"].reshape(heads, d, 1)  # [B, heads, N, 1]
    scores = (p @ image_pe.transpose(0, 2, 1)).reshape(b, heads, n, -1) + bias  # [B, heads, N, HW]
    return image_attention(params, key, scores, v_tokens, heads, key_bias)
