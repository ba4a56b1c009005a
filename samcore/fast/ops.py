"""The fast formulation's versions of two spec ops, with the same results up to rounding:
LayerNorm that also returns its statistics (and takes its means as matrix-vector products),
and GELU evaluated in place (fewer temporaries). Graphs emit native nodes for both."""

from __future__ import annotations

import numpy as np

from samcore.spec.ops import ERF_DENOMINATOR, ERF_NUMERATOR, graph_hook


def _horner_in_place(t2: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """sum_k coefficients[k] * t2**k, by Horner's rule in place."""
    result = np.full_like(t2, coefficients[-1])
    for c in coefficients[-2::-1]:
        result *= t2
        result += c
    return result


@graph_hook
def erf(x: np.ndarray) -> np.ndarray:
    """``samcore.spec.ops.erf`` (the same rational approximation), in place: x float32 -> erf(x)."""
    t = np.clip(x, np.float32(-4), np.float32(4))
    t2 = t * t
    result = _horner_in_place(t2, ERF_NUMERATOR)
    result *= t
    result /= _horner_in_place(t2, ERF_DENOMINATOR)
    return result


@graph_hook
def gelu(x: np.ndarray) -> np.ndarray:
    """``samcore.spec.ops.gelu``, ``x * (1 + erf(x / sqrt(2))) / 2``, in place on one temporary."""
    result = erf(x * np.float32(1 / np.sqrt(2)))
    result += 1
    result *= x
    result *= np.float32(0.5)
    return result


@graph_hook
def layer_norm_with_stats(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LayerNorm over the last axis (``torch.nn.LayerNorm``) and the statistics it used:
    x [..., C], weight/bias [C] -> (y [..., C], mean [..., 1], 1 / sqrt(var + eps) [..., 1])."""
    average = np.full(x.shape[-1], 1 / x.shape[-1], np.float32)  # means as matrix-vector products (fast)
    mean = (x @ average)[..., None]
    centred = x - mean
    inv_std = np.float32(1) / np.sqrt(np.vecdot(centred, centred)[..., None] * average[0] + np.float32(eps))
    centred *= inv_std  # in place: one [..., C] temporary in all
    centred *= weight
    centred += bias
    return centred, mean, inv_std


@graph_hook
def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """``layer_norm_with_stats`` without the statistics: x [..., C] -> [..., C]."""
    return layer_norm_with_stats(x, weight, bias, eps)[0]
