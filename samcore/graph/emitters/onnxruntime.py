"""ONNX Runtime's emitter set: the common emitters, plus the forms ONNX Runtime runs best:
Erf and the exact-GELU pattern it fuses into one Gelu kernel (opset 17 has no Gelu), and
LayerNorm2d's channel means as MatMuls (it reduces a middle axis several times slower)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from samcore.fast import ops as fast_ops
from samcore.graph.emitters.common import COMMON
from samcore.graph.tracer import Traced
from samcore.spec import ops

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


ONNXRUNTIME: Mapping[Callable[..., Any], Callable[..., Any]] = {
    **COMMON,
    ops.erf: erf,
    fast_ops.erf: erf,
    ops.gelu: gelu,
    fast_ops.gelu: gelu,
    ops.layer_norm_2d: layer_norm_2d,
}
