"""The portable emitter set (TFLite and other converters that lower ONNX node by node): the
common emitters, plus GELU as one ONNX Gelu node (opset >= 20) that a lowering maps to its
own GELU. LayerNorm2d is traced as the spec writes it (ReduceMean over channels)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from samcore.fast import ops as fast_ops
from samcore.graph.emitters.common import COMMON
from samcore.graph.tracer import Traced
from samcore.spec import ops

#: The lowest opset of the portable graphs (Gelu).
OPSET = 20


def gelu(x: Traced) -> Traced:
    """Exact GELU (approximate="none"), one node."""
    if x.graph.opset < OPSET:
        raise ValueError(f"opset: the portable Gelu needs >= {OPSET}, got {x.graph.opset}")
    return x._op("Gelu", [x], approximate="none")


PORTABLE: Mapping[Callable[..., Any], Callable[..., Any]] = {**COMMON, ops.gelu: gelu, fast_ops.gelu: gelu}
