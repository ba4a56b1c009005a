"""The output upscaling as GEMMs: transposed convs with kernel = stride = 2 as matrix products
whose columns need no pixel shuffle until the masks, the first one rebuilt from a per-image
product (``upscale_input``), computed a cache-sized chunk of image tokens at a time."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from samcore.config import MASK_DECODER, TRANSFORMER, DecoderConfig
from samcore.fast.attention import ImageUpdate
from samcore.fast.ops import gelu, layer_norm
from samcore.spec.ops import graph_hook

T, D = TRANSFORMER, MASK_DECODER


#: Image tokens upscaled per step: the step's features (~0.5 MB) stay in a core's L2
#: cache through LayerNorm2d, the two GELUs and the second GEMM.
UPSCALE_CHUNK = 128


@dataclasses.dataclass(frozen=True)
class UpscalingGemms:
    """The output upscaling as GEMM weights: the two transposed convs as [C, 4 C/4] and
    [C/4, 4 C/8] with columns ordered (di, dj, channel), their biases tiled to match, and
    the LayerNorm2d between them (``upscaling_gemms``)."""

    w1: np.ndarray
    b1: np.ndarray
    norm_weight: np.ndarray
    norm_bias: np.ndarray
    w2: np.ndarray
    b2: np.ndarray


def upscaling_gemms(params: Mapping[str, np.ndarray]) -> UpscalingGemms:
    """``output_upscaling``'s weights rearranged for ``upscaled_features`` (once per call, not per chunk)."""
    k = f"{D}output_upscaling"
    w1, w2 = params[f"{k}.0.weight"], params[f"{k}.3.weight"]  # [C, C/4, 2, 2], [C/4, C/8, 2, 2]
    return UpscalingGemms(
        w1.transpose(0, 2, 3, 1).reshape(w1.shape[0], 4 * w1.shape[1]), np.tile(params[f"{k}.0.bias"], 4),
        params[f"{k}.1.weight"], params[f"{k}.1.bias"],
        w2.transpose(0, 2, 3, 1).reshape(w2.shape[0], -1), np.tile(params[f"{k}.3.bias"], 4),
    )


def upscale_weight_chain(params: Mapping[str, np.ndarray], config: DecoderConfig, w1: np.ndarray) -> list[np.ndarray]:
    """[G_0, ..., G_depth]: the first upscaling GEMM's weight w1 [C, 4 C/4] (``UpscalingGemms.w1``)
    as seen from each layer's input image tokens. G_depth = w1, and G_i = diag(gamma_i) G_{i+1},
    gamma_i the gain of layer i's norm4 (which makes layer i + 1's input)."""
    chain = [w1]
    for i in reversed(range(config.depth)):
        chain.insert(0, params[f"{T}layers.{i}.norm4.weight"][:, None] * chain[0])
    return chain


def upscale_input(
    params: Mapping[str, np.ndarray], config: DecoderConfig, base: np.ndarray, updates: list[ImageUpdate]
) -> np.ndarray:
    """The first upscaling GEMM's output, final image tokens @ W1 + b1 [B, HW, 4 C/4],
    without that [HW, C] x [C, 4 C/4] product per prompt.

    Each layer's image' = LayerNorm(image + A^T u) = r (image + A^T u - mean) * gamma + beta
    (r = 1/std per token), so with ``upscale_weight_chain``'s G_i,
    image' @ G_{i+1} = r (image @ G_i + A^T (u G_i) - mean colsum(G_i)) + beta G_{i+1}.
    Unrolled from the per-image ``base`` = tokens @ G_0, the result is s * base + L^T R:
    s the product of every layer's r, and one thin product whose rows are, per layer, the
    attention weights and the mean (times the later r's) and the constant beta G_{i+1}
    (with b1 on the last layer's): ``upscale_factors``.
    """
    scale, left, right = upscale_factors(params, config, updates)
    return scale * base + left.transpose(0, 2, 1) @ right


def upscale_factors(
    params: Mapping[str, np.ndarray], config: DecoderConfig, updates: list[ImageUpdate]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``upscale_input``'s factors (s [B, HW, 1], L [B, rows, HW], R [B, rows, 4 C/4]), rows =
    depth (heads N + 2): the first upscaling GEMM's output is s * base + L^T R."""
    gemms = upscaling_gemms(params)
    chain = upscale_weight_chain(params, config, gemms.w1)
    b, hw, _ = updates[-1].mean.shape
    k = gemms.w1.shape[1]
    scale = np.ones_like(updates[-1].mean)  # [B, HW, 1] the later layers' r, multiplied up
    ones = scale[:, :1]  # [B, 1, 1], to give constant rows the batch axis
    lefts, rights = [], []  # [B, rows, HW], [B, rows, K]
    for i in reversed(range(config.depth)):
        step = updates[i]
        constant = params[f"{T}layers.{i}.norm4.bias"][None, :] @ chain[i + 1]  # [1, K]
        if i == config.depth - 1:
            constant = constant + gemms.b1
        lefts.append(scale.reshape(b, 1, hw))
        rights.append(ones * constant.reshape(1, 1, k))
        scale = scale * step.inv_std
        lefts += [step.weights * scale.reshape(b, 1, hw), (step.mean * scale).reshape(b, 1, hw)]
        rights += [step.u @ chain[i], ones * -chain[i].sum(axis=0).reshape(1, 1, k)]
    return scale, np.concatenate(lefts, axis=1), np.concatenate(rights, axis=1)


def upscaled_features(gemms: UpscalingGemms, x: np.ndarray) -> np.ndarray:
    """The first transposed conv's output [B, n, 4 C/4] (``upscale_input``; columns ordered
    (di, dj, channel)) -> upscaled features [B, 16 n, C/8] of the 16 pixels
    (4i + 2di + ei, 4j + 2dj + ej) of each token (i, j), in the order (token, di, dj, ei, ej):
    LayerNorm2d and GELU per pixel, the second conv-transpose GEMM, GELU."""
    b, n, _ = x.shape
    c4, c8 = gemms.w2.shape[0], gemms.w2.shape[1] // 4
    x = gelu(layer_norm(x.reshape(b * 4 * n, c4), gemms.norm_weight, gemms.norm_bias, eps=1e-6))
    return gelu((x @ gemms.w2 + gemms.b2).reshape(b, 16 * n, c8))  # 2-d: runtimes fuse the bias into the GEMM


def upscaled_mask_logits(gemms: UpscalingGemms, x: np.ndarray, hyper: np.ndarray) -> np.ndarray:
    """The first transposed conv's output [B, n, 4 C/4] and hypernetwork weights [B, M, C/8]
    -> logits [B, n, 16, M] of the 16 pixels of each token (``upscaled_features``' order):
    the features' product with the hypernetwork weights."""
    b, n, _ = x.shape
    return (upscaled_features(gemms, x) @ hyper.transpose(0, 2, 1)).reshape(b, n, 16, hyper.shape[1])


def pixels_to_masks(logits: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """``upscaled_mask_logits`` output [B, hw, 16, M] -> masks [B, M, 4h, 4w]."""
    b, _, _, m = logits.shape
    h, w = grid
    masks = logits.reshape(b, h, w, 2, 2, 2, 2, m).transpose(0, 7, 1, 3, 5, 2, 4, 6)
    return masks.reshape(b, m, 4 * h, 4 * w)


@graph_hook  # a graph computes all tokens at once: its emitter skips the chunking
def mask_logits(
    params: Mapping[str, np.ndarray], x: np.ndarray, hyper: np.ndarray, grid: tuple[int, int]
) -> np.ndarray:
    """The first transposed conv's output [B, hw, 4 C/4] (``upscale_input``) and hypernetwork
    weights [B, M, C/8] -> mask logits [B, M, 4h, 4w], a cache-sized chunk of tokens of one
    prompt at a time."""
    b, hw, _ = x.shape
    logits = np.empty((b, hw, 16, hyper.shape[1]), np.float32)
    gemms = upscaling_gemms(params)
    for p in range(b):
        for start in range(0, hw, UPSCALE_CHUNK):
            part = slice(start, start + UPSCALE_CHUNK)
            logits[p, part] = upscaled_mask_logits(gemms, x[p : p + 1, part], hyper[p : p + 1])[0]
    return pixels_to_masks(logits, grid)


@graph_hook  # ONNX Runtime's emitter makes the first GEMM's output chunk by chunk with the rest
def upscaled_logits(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    base: np.ndarray,
    updates: list[ImageUpdate],
    hyper: np.ndarray,
    grid: tuple[int, int],
) -> np.ndarray:
    """``mask_logits(upscale_input(base, updates), hyper)``: the per-image (or per-prompt, with
    mask input) ``base`` [1|B, hw, 4 C/4], each layer's ``ImageUpdate`` and hypernetwork
    weights [B, M, C/8] -> mask logits [B, M, 4h, 4w]."""
    return mask_logits(params, upscale_input(params, config, base, updates), hyper, grid)
