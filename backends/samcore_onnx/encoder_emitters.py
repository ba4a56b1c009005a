"""Native ONNX nodes for the image encoder spec's functions marked ``@graph_hook``.

Like ``samcore_onnx.emitters`` (the decoder's), each emitter takes the spec function's
arguments and returns what it would; importing this module registers them.
"""

from __future__ import annotations

import numpy as np

from samcore.spec import image_encoder
from samcore_onnx.emitters import emits
from samcore_onnx.tracer import Traced


@emits(image_encoder.zero_pad)
def zero_pad(x: Traced, top: int, bottom: int, left: int, right: int) -> Traced:
    """One Pad node (constant zeros) on rows and columns of x [B, H, W, C]."""
    if not (top or bottom or left or right):
        return x
    b, h, w, c = x._shape
    pads = x.graph.const([0, top, left, 0, 0, bottom, right, 0], np.int64)
    return x._op("Pad", [x, pads], shape=(b, h + top + bottom, w + left + right, c), mode="constant")
