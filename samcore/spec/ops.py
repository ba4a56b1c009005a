"""The small op vocabulary every SAM decoder step is written in.

Each op is a pure function of NumPy arrays, float32 in and out, with the
semantics of the matching ``torch.nn`` module. Weights keep PyTorch's layout
(``Linear``: out x in; ``Conv2d``: out x in x kh x kw; ``ConvTranspose2d``:
in x out x kh x kw), so they come straight from a state_dict.

Plain NumPy, the math as docs/spec.md writes it; speed belongs to ``samcore.fast``.
Graph tracers (``samcore.graph``) run these same functions on symbolic arrays.
The few written for NumPy rather than for a graph carry ``@graph_hook``: a
symbolic argument may then emit what a graph runs best (Erf, LayerNormalization,
Conv, ...) instead of tracing the NumPy formulation. NumPy calls take the plain path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

# Rational approximation of erf on [-4, 4] (odd numerator over even
# denominator, monomial coefficients in x^2), as Eigen and XLA evaluate erf in
# float32. Evaluated in float32 its error is within a few ulp; beyond |x| = 4, erf
# is 1 to float32 precision. tests/test_ops.py checks it against math.erf.
ERF_NUMERATOR = np.array([
    -1.60960333262415e-02,
    -2.95459980854025e-03,
    -7.34990630326855e-04,
    -5.69250639462346e-05,
    -2.10102402082508e-06,
    2.77068142495902e-08,
    -2.72614225801306e-10,
], np.float32)
ERF_DENOMINATOR = np.array([
    -1.42647390514189e-02,
    -7.37332916720468e-03,
    -1.68282697438203e-03,
    -2.13374055278905e-04,
    -1.45660718464996e-05,
], np.float32)


def graph_hook(func: F) -> F:
    """Let a symbolic argument take over a call to ``func`` (the NEP 18 idea, for spec functions).

    If the type of any argument defines ``__samcore_function__``, the call returns
    ``type(arg).__samcore_function__(arg, hooked, args, kwargs)``, which may emit a
    native graph node or trace ``hooked.__wrapped__`` (the NumPy code) as is.
    """

    @functools.wraps(func)
    def hooked(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            handler = getattr(type(arg), "__samcore_function__", None)
            if handler is not None:
                return handler(arg, hooked, args, kwargs)
        return func(*args, **kwargs)

    return hooked  # type: ignore[return-value]


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x @ weight.T + bias``: x [..., in], weight [out, in], bias [out] -> [..., out]."""
    y = x @ weight.T
    return y if bias is None else y + bias


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0), elementwise."""
    return np.maximum(x, 0, dtype=x.dtype)


def _horner(t2: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """sum_k coefficients[k] * t2**k, by Horner's rule."""
    result = np.full_like(t2, coefficients[-1])
    for c in coefficients[-2::-1]:
        result = result * t2 + c
    return result


@graph_hook
def erf(x: np.ndarray) -> np.ndarray:
    """The error function of float32 x, elementwise, to a few float32 ulp."""
    t = np.clip(x, np.float32(-4), np.float32(4))
    t2 = t * t
    return t * _horner(t2, ERF_NUMERATOR) / _horner(t2, ERF_DENOMINATOR)


@graph_hook
def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, ``x * (1 + erf(x / sqrt(2))) / 2``, as ``torch.nn.GELU()``."""
    return x * (1 + erf(x * np.float32(1 / np.sqrt(2)))) * np.float32(0.5)


@graph_hook
def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@graph_hook
def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """LayerNorm over the last axis: x [..., C], weight/bias [C] (``torch.nn.LayerNorm``)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float32(eps)) * weight + bias


@graph_hook
def layer_norm_2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """SAM's LayerNorm2d: normalise over channels of x [B, C, H, W]; weight/bias [C]."""
    mean = x.mean(axis=1, keepdims=True)
    var = np.square(x - mean).mean(axis=1, keepdims=True)
    normed = (x - mean) / np.sqrt(var + np.float32(eps))
    return normed * weight[:, None, None] + bias[:, None, None]


@graph_hook
def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Conv2d with stride equal to the kernel size and no padding (SAM's only kind).

    x [B, Cin, H, W], weight [Cout, Cin, k, k], bias [Cout] -> [B, Cout, H/k, W/k].
    Each output pixel sees one k x k patch, so the conv is a patch-wise matmul.
    """
    b, c, h, w = x.shape
    k = weight.shape[-1]
    patches = x.reshape(b, c, h // k, k, w // k, k)
    y = np.einsum("bcipjq,ocpq->boij", patches, weight, optimize=True)
    return y + bias[:, None, None]


@graph_hook
def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ConvTranspose2d with stride equal to the kernel size and no padding.

    x [B, Cin, H, W], weight [Cin, Cout, k, k], bias [Cout] -> [B, Cout, H*k, W*k]:
    input pixel (i, j) writes the k x k block at (i*k, j*k), so blocks never overlap.
    """
    b, _, h, w = x.shape
    cout, k = weight.shape[1], weight.shape[-1]
    blocks = np.einsum("bcij,copq->boipjq", x, weight, optimize=True)
    return blocks.reshape(b, cout, h * k, w * k) + bias[:, None, None]


def linear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows i0, i1 and weight of i1 for each output row (torch, align_corners=False).

    The source position ``scale * (i + 0.5) - 0.5`` is rounded to float32 once, as
    torch's fused multiply-add does; rounding twice moves weights by up to an ulp of
    the position, i.e. 1e-4 of a logit on large images.
    """
    scale = np.float64(np.float32(in_size) / np.float32(out_size))
    src = np.maximum((scale * (np.arange(out_size) + 0.5) - 0.5).astype(np.float32), 0)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)
