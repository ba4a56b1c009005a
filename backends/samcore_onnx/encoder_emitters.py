"""Native ONNX nodes for the image encoder spec's functions marked ``@graph_hook``.

Like ``samcore_onnx.emitters`` (the decoder's), each emitter takes the spec function's
arguments and returns what it would; importing this module registers them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from samcore.spec import image_encoder, ops
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


#: Most bytes of one image's attention scores per query chunk: a global block of ViT-B
#: scores [heads, 4096, 4096] (805 MB at once) in 7 chunks of up to 10 grid rows (126 MB).
#: Each chunk's MatMuls repack k and v (ONNX Runtime packs the right operand per call):
#: chunks of one grid row (12.6 MB, cache-sized) made the attention MatMuls ~2x slower
#: in an ORT profile at ViT-B size.
SCORE_CHUNK_BYTES = 128 << 20


@emits(image_encoder.attention)
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
