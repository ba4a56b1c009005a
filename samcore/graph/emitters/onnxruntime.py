"""ONNX Runtime's emitter set: the common emitters, plus the forms ONNX Runtime runs best:
Erf and the exact-GELU pattern it fuses into one Gelu kernel (opset 17 has no Gelu), and
LayerNorm2d's channel means as MatMuls (it reduces a middle axis several times slower), the
image encoder's global attention in query chunks (bounded memory for the scores), and the
decoder's upscaling in chunks of image tokens (each chunk's passes stay in cache)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from samcore import fast
from samcore.config import DecoderConfig
from samcore.fast import ops as fast_ops
from samcore.graph.emitters.common import COMMON, logits_to_masks
from samcore.graph.tracer import Traced
from samcore.spec import image_encoder, ops

SQRT2 = np.float32(np.sqrt(2.0))


def erf(x: Traced) -> Traced:
    """Erf, in x's dtype."""
    return x._op("Erf", [x])


def gelu(x: Traced) -> Traced:
    """``x * (1 + erf(x / sqrt 2)) * 0.5``: the pattern torch exports and ONNX Runtime fuses into Gelu."""
    return x * (erf(x / SQRT2) + np.float32(1)) * np.float32(0.5)


def layer_norm_2d(x: Traced, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-6) -> Traced:
    """SAM's LayerNorm2d over the channels of x [B, C, H, W], the channel means taken as
    MatMuls: ONNX Runtime reduces a middle axis several times slower."""
    b, c, h, w = x.shape
    flat = x.reshape(b, c, h * w)
    average = np.full((1, c), 1 / c, np.float32)
    mean = average @ flat
    centred = flat - mean
    normed = centred / np.sqrt(average @ np.square(centred) + np.float32(eps))
    return (normed * weight[:, None] + bias[:, None]).reshape(b, c, h, w)


#: Most bytes of one image's attention scores per query chunk: a global block of ViT-B
#: scores [heads, 4096, 4096] (805 MB at once) in 7 chunks of up to 10 grid rows (126 MB).
#: Each chunk's MatMuls repack k and v (ONNX Runtime packs the right operand per call):
#: chunks of one grid row (cache-sized) were slower (docs/benchmarks.md, "Image encoder").
SCORE_CHUNK_BYTES = 128 << 20


def attention(params: Mapping[str, np.ndarray], key: str, x: Traced, num_heads: int, use_rel_pos: bool) -> Traced:
    """``image_encoder.attention`` with the queries in chunks of whole query rows when the scores
    of one image exceed ``SCORE_CHUNK_BYTES`` (global blocks), else as the spec writes it.

    Each chunk is the spec's computation for its queries against all keys: softmax over
    keys is per query, so the chunks concatenated along the queries are the whole.
    """
    b, h, w, d = x.shape
    head_dim = d // num_heads
    rows = max(1, SCORE_CHUNK_BYTES // (num_heads * w * h * w * 4))
    if rows >= h:
        return image_encoder.attention.__wrapped__(params, key, x, num_heads, use_rel_pos)
    qkv = image_encoder.dense_layer(params, f"{key}.qkv", x).reshape(b, h * w, 3, num_heads, head_dim)
    qkv = qkv.transpose(2, 0, 3, 1, 4).reshape(3, b * num_heads, h * w, head_dim)
    q, k, v = qkv[0], qkv[1], qkv[2]
    scaled, keys = q * np.float32(head_dim**-0.5), k.transpose(0, 2, 1)
    if use_rel_pos:
        rel_h = image_encoder.get_rel_pos(h, h, params[f"{key}.rel_pos_h"])
        rel_w = image_encoder.get_rel_pos(w, w, params[f"{key}.rel_pos_w"])
        bias_h, bias_w = image_encoder.decomposed_rel_pos(q.reshape(b * num_heads, h, w, head_dim), rel_h, rel_w)
    chunks = []
    for top in range(0, h, rows):
        n = min(rows, h - top)
        scores = scaled[:, top * w : (top + n) * w] @ keys  # [B' * heads, n w, hw]
        if use_rel_pos:
            scores = scores.reshape(b * num_heads, n, w, h, w) + bias_h[:, top : top + n] + bias_w[:, top : top + n]
            scores = scores.reshape(b * num_heads, n * w, h * w)
        chunks.append(ops.softmax(scores, axis=-1) @ v)
    out = np.concatenate(chunks, axis=1)  # [B' * heads, hw, hd]
    out = out.reshape(b, num_heads, h, w, head_dim).transpose(0, 2, 3, 1, 4).reshape(b, h, w, d)
    return image_encoder.dense_layer(params, f"{key}.proj", out)


#: Image tokens per step of the per-prompt upscaling (``upscaled_logits``): a step's
#: first-GEMM output and features (2 MB after the second GEMM) stay in a core's cache from
#: the thin product that makes them, through GELU, to the product with the hypernetwork
#: weights; all 4096 tokens at once go through memory (docs/benchmarks.md, "Measured choices").
UPSCALE_CHUNK = 512


def upscaled_logits(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    base: Traced,
    updates: list[fast.ImageUpdate],
    hyper: Traced,
    grid: tuple[int, int],
) -> Traced:
    """``samcore.fast.upscaled_logits`` ``UPSCALE_CHUNK`` image tokens at a time: each chunk's
    slice of s * base + L^T R (``upscale_factors``), its features and product with ``hyper``
    [B, M, C/8]; the chunks' logits concatenated in token order, then ``mask_logits``' pixel
    shuffle -> [B, M, 4h, 4w]."""
    scale, left, right = fast.upscale_factors(params, config, updates)
    gemms = fast.upscaling_gemms(params)
    hw, logits = base.shape[1], []
    for start in range(0, hw, UPSCALE_CHUNK):
        part = slice(start, min(start + UPSCALE_CHUNK, hw))
        x = scale[:, part] * base[:, part] + left[:, :, part].transpose(0, 2, 1) @ right  # [B, n, 4 C/4]
        logits.append(hyper @ fast.upscaled_features(gemms, x).transpose(0, 2, 1))  # [B, M, 16 n]
    return logits_to_masks(np.concatenate(logits, axis=-1), hyper, grid)


ONNXRUNTIME: Mapping[Callable[..., Any], Callable[..., Any]] = {
    **COMMON,
    ops.erf: erf,
    fast_ops.erf: erf,
    ops.gelu: gelu,
    fast_ops.gelu: gelu,
    ops.layer_norm_2d: layer_norm_2d,
    image_encoder.attention: attention,
    fast.upscaled_logits: upscaled_logits,
}
