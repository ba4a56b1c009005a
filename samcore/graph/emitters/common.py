"""Emitters every target shares: native ONNX nodes (opset >= 17) for the hooked ops whose
NumPy formulation a graph cannot or should not trace (a run-time batch, LayerNormalization,
Conv, the chunked upscaling). Each takes the hooked function's arguments and returns what
it would, as ``Traced`` values; the NumPy formulation stays the definition (tests hold the
two equal)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from samcore import fast
from samcore.config import MASK_DECODER, PROMPT_ENCODER
from samcore.fast import ops as fast_ops
from samcore.graph.tracer import Dim, DimLike, Traced, _broadcast_to
from samcore.spec import image_encoder, mask_decoder, ops, prompt_encoder


def softmax(x: Traced, axis: int = -1) -> Traced:
    """Softmax along the last axis (opset >= 13 semantics); along another axis, the NumPy
    formulation's reductions: ONNX Runtime runs Softmax(axis) by transposing the axis last
    and back, several times slower (docs/benchmarks.md, "Measured choices")."""
    if axis % x.ndim != x.ndim - 1:
        return ops.softmax.__wrapped__(x, axis)
    return x._op("Softmax", [x], axis=axis)


def layer_norm(x: Traced, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> Traced:
    """LayerNormalization over the last axis (opset >= 17)."""
    return _layer_norm_node(x, weight, bias, eps, with_stats=False)[0]


def layer_norm_with_stats(
    x: Traced, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5
) -> tuple[Traced, Traced, Traced]:
    """LayerNormalization over the last axis with its optional outputs Mean and InvStdDev."""
    return _layer_norm_node(x, weight, bias, eps, with_stats=True)


def _layer_norm_node(x: Traced, weight: np.ndarray, bias: np.ndarray, eps: float, with_stats: bool) -> tuple:
    """One LayerNormalization node: (y) or (y, mean, 1/std), the statistics [..., 1]."""
    g = x.graph
    inputs = [x.name, g.const(weight, x.dtype), g.const(bias, x.dtype)]
    names = g.node("LayerNormalization", inputs, n_outputs=3 if with_stats else 1, axis=-1, epsilon=eps)
    stats = (*x._shape[:-1], 1)
    return (Traced(g, names[0], x.dtype, x._shape), *(Traced(g, n, x.dtype, stats) for n in names[1:]))


def _conv_shape(x: Traced, channels: int, scale: Callable[[DimLike], DimLike]) -> tuple[DimLike, ...]:
    b, _, h, w = x.shape
    return (x._shape[0] if isinstance(b, Dim) else b, channels, scale(h), scale(w))


def conv2d(x: Traced, weight: np.ndarray, bias: np.ndarray) -> Traced:
    """Conv with stride = kernel, no padding: x [B, Cin, H, W] -> [B, Cout, H/k, W/k]."""
    g, k = x.graph, weight.shape[-1]
    shape = _conv_shape(x, weight.shape[0], lambda d: d // k)
    inputs = [x, g.const(weight, x.dtype), g.const(bias, x.dtype)]
    return x._op("Conv", inputs, shape=shape, kernel_shape=[k, k], strides=[k, k])


def conv_transpose2d(x: Traced, weight: np.ndarray, bias: np.ndarray) -> Traced:
    """ConvTranspose with stride = kernel, no padding: x [B, Cin, H, W] -> [B, Cout, H*k, W*k]."""
    g, k = x.graph, weight.shape[-1]
    shape = _conv_shape(x, weight.shape[1], lambda d: d * k)
    inputs = [x, g.const(weight, x.dtype), g.const(bias, x.dtype)]
    return x._op("ConvTranspose", inputs, shape=shape, kernel_shape=[k, k], strides=[k, k])


def output_tokens(params: Mapping[str, np.ndarray], batch: DimLike) -> Traced:
    """The IoU and mask tokens expanded to a run-time batch -> [B, 1 + T, C]."""
    d = MASK_DECODER
    tokens = np.concatenate([params[f"{d}iou_token.weight"], params[f"{d}mask_tokens.weight"]], axis=0)
    return _broadcast_to(tokens.astype(np.float32), (batch, *tokens.shape))


def no_mask_embedding(params: Mapping[str, np.ndarray], batch: DimLike, grid: tuple[int, int]) -> Traced:
    """``no_mask_embed`` expanded to a run-time batch and the grid -> [B, C, h, w]."""
    weight = params[f"{PROMPT_ENCODER}no_mask_embed.weight"].astype(np.float32)
    return _broadcast_to(weight.reshape(1, -1, 1, 1), (batch, weight.shape[1], *grid))


def mask_logits(params: Mapping[str, np.ndarray], image: Traced, hyper: Traced, grid: tuple[int, int]) -> Traced:
    """Image tokens [B, hw, C] and hypernetwork weights [B, M, C/8] -> mask logits [B, M, 4h, 4w],
    every token at once (the NumPy formulation's chunks only serve a CPU cache).

    ``pixels_to_masks(upscaled_mask_logits(...))`` with the product taken the other way
    round, hyper [M, C/8] x features^T -> [B, M, 16 hw] in the order (mask, i, j, di, dj,
    ei, ej), and the pixel shuffle to (mask, i, di, ei, j, dj, ej) in two 4-d transposes
    that each move blocks of 2 or 4 floats, which ONNX Runtime runs faster than the literal
    form (a [16 hw, M] product, an 8-d transpose moving single floats; docs/benchmarks.md).
    """
    logits = hyper @ fast.upscaled_features(fast.upscaling_gemms(params), image).transpose(0, 2, 1)  # [B, M, 16 hw]
    return logits_to_masks(logits, hyper, grid)


def logits_to_masks(logits: Traced, hyper: Traced, grid: tuple[int, int]) -> Traced:
    """``mask_logits``' pixel shuffle: logits [B, M, 16 hw] in the order (mask, i, j, di, dj, ei, ej)
    of hypernetwork weights ``hyper`` [B, M, C/8] -> masks [B, M, 4h, 4w]."""
    b, m = hyper.shape[0], hyper.shape[1]
    h, w = grid
    swapped = logits.reshape(-1, 2, 2, 2).transpose(0, 2, 1, 3)  # (.., di, dj, ei, ej) -> (.., di, ei, dj, ej)
    masks = swapped.reshape(-1, w, 4, 4).transpose(0, 2, 1, 3)  # (.., i, j, di ei, dj ej) -> (.., i, di ei, j, dj ej)
    return masks.reshape(b, m, 4 * h, 4 * w)


def zero_pad(x: Traced, top: int, bottom: int, left: int, right: int) -> Traced:
    """One Pad node (constant zeros) on rows and columns of x [B, H, W, C] (the image encoder's windows)."""
    if not (top or bottom or left or right):
        return x
    b, h, w, c = x._shape
    pads = x.graph.const([0, top, left, 0, 0, bottom, right, 0], np.int64)
    return x._op("Pad", [x, pads], shape=(b, h + top + bottom, w + left + right, c), mode="constant")


COMMON: Mapping[Callable[..., Any], Callable[..., Any]] = {
    ops.softmax: softmax,
    ops.layer_norm: layer_norm,
    fast_ops.layer_norm: layer_norm,
    fast_ops.layer_norm_with_stats: layer_norm_with_stats,
    ops.conv2d: conv2d,
    ops.conv_transpose2d: conv_transpose2d,
    mask_decoder.output_tokens: output_tokens,
    prompt_encoder.no_mask_embedding: no_mask_embedding,
    fast.mask_logits: mask_logits,
    image_encoder.zero_pad: zero_pad,
}
