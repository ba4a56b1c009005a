"""SAM's image encoder: Meta's ``ImageEncoderViT`` (a ViTDet backbone) in plain NumPy.

Mirrors ``segment_anything/modeling/image_encoder.py``. Shapes: B images, S the
square input frame (1024), g = S / patch the token grid (64), D the embed dim,
heads of width D / num_heads, ws the window size, C_out the neck's channels.
Tokens stay channels-last [B, g, g, D] as in Meta's blocks; the neck returns
channels-first [B, C_out, g, g].

Written in the export-friendly form: reshape, transpose, matmul, slices,
concatenation and ufuncs on the traced input; everything computed from the
parameters alone (relative-position tables) is plain NumPy on constants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from samcore.config import IMAGE_ENCODER, EncoderConfig
from samcore.spec.ops import conv2d, gelu, graph_hook, layer_norm, linear, linear_taps, softmax

#: Every LayerNorm of the image encoder (blocks and neck) uses this epsilon.
EPS = 1e-6


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``linear`` on tokens x [..., D_in] with weight [D_out, D_in] -> [..., D_out], as one 2-D
    product (NumPy runs a product of stacked operands as many small ones, several times slower)."""
    flat = linear(x.reshape(-1, x.shape[-1]), weight, bias)
    return flat.reshape(*x.shape[:-1], flat.shape[-1])


def dense_layer(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    """The Linear layer ``key`` (``key.weight``, ``key.bias``) on tokens x [..., D_in] -> [..., D_out]."""
    return dense(x, params[f"{key}.weight"], params[f"{key}.bias"])


def patch_embed(params: Mapping[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """Conv with kernel = stride = patch: images [B, 3, S, S] -> tokens [B, g, g, D]."""
    p = f"{IMAGE_ENCODER}patch_embed.proj"
    return conv2d(images, params[f"{p}.weight"], params[f"{p}.bias"]).transpose(0, 2, 3, 1)


def zeros(like: np.ndarray, shape: tuple) -> np.ndarray:
    """Zeros of ``like``'s dtype in ``shape`` (read-only), broadcast from a zero derived from
    ``like``, so that a graph tracer sees them too (``np.zeros`` cannot take a traced batch size)."""
    return np.broadcast_to(np.ones_like(like[:1, :1, :1, :1]) - 1, shape)


@graph_hook
def zero_pad(x: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Zero rows above/below and columns left/right of x [B, H, W, C] -> [B, H+top+bottom, W+left+right, C]."""
    b, h, w, c = x.shape
    if top or bottom:
        x = np.concatenate([zeros(x, (b, top, w, c)), x, zeros(x, (b, bottom, w, c))], axis=1)
    if left or right:
        height = h + top + bottom
        x = np.concatenate([zeros(x, (b, height, left, c)), x, zeros(x, (b, height, right, c))], axis=2)
    return x


def window_partition(x: np.ndarray, window: int) -> np.ndarray:
    """Zero pad x [B, H, W, C] to multiples of ``window`` at the bottom and right, then cut
    it into windows [B * nh * nw, ws, ws, C] (row-major over the windows of each image)."""
    b, h, w, c = x.shape
    x = zero_pad(x, 0, -h % window, 0, -w % window)
    nh, nw = x.shape[1] // window, x.shape[2] // window
    windows = x.reshape(b, nh, window, nw, window, c).transpose(0, 1, 3, 2, 4, 5)
    return windows.reshape(b * nh * nw, window, window, c)


def window_unpartition(windows: np.ndarray, window: int, batch: int, size: tuple[int, int]) -> np.ndarray:
    """Inverse of `window_partition`: windows [B * nh * nw, ws, ws, C] -> [B, H, W, C] for
    ``batch`` = B and ``size`` = (H, W), the padding cropped."""
    h, w = size
    nh, nw = -(-h // window), -(-w // window)
    c = windows.shape[-1]
    x = windows.reshape(batch, nh, nw, window, window, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, nh * window, nw * window, c)[:, :h, :w]


def resize_rel_pos(table: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of a relative-position table [L, hd] to [length, hd] along L,
    as ``F.interpolate(mode="linear", align_corners=False)`` on [1, hd, L]."""
    i0, i1, weight = linear_taps(table.shape[0], length)
    return table[i0] * (1 - weight)[:, None] + table[i1] * weight[:, None]


def get_rel_pos(q_size: int, k_size: int, table: np.ndarray) -> np.ndarray:
    """Embeddings of each (query, key) relative position along one axis: [q_size, k_size, hd].

    ``table`` [L, hd] covers the offsets -(n-1)..(n-1), n = max(q_size, k_size); a table of
    another length is first resized to 2n - 1 (a model run at another size than trained).
    """
    span = 2 * max(q_size, k_size) - 1
    if table.shape[0] != span:
        table = resize_rel_pos(table, span)
    q_scale, k_scale = max(k_size / q_size, 1.0), max(q_size / k_size, 1.0)
    q_coords = np.arange(q_size, dtype=np.float32)[:, None] * np.float32(q_scale)
    k_coords = np.arange(k_size, dtype=np.float32)[None, :] * np.float32(k_scale)
    offsets = (q_coords - k_coords) + np.float32((k_size - 1) * k_scale)
    return table[offsets.astype(np.int64)]


def decomposed_rel_pos(q: np.ndarray, rel_h: np.ndarray, rel_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The attention bias of decomposed relative positions (MViTv2), in two parts.

    q [B', qh, qw, hd] (queries on their grid), rel_h [qh, kh, hd], rel_w [qw, kw, hd]
    -> (q . rel_h [B', qh, qw, kh, 1], q . rel_w [B', qh, qw, 1, kw]); the scores
    [B', qh, qw, kh, kw] get both added (by broadcasting).
    """
    # [qh, B', qw, hd] @ [qh, 1, hd, kh] -> [qh, B', qw, kh]
    along_h = (q.transpose(1, 0, 2, 3) @ rel_h[:, None].transpose(0, 1, 3, 2)).transpose(1, 0, 2, 3)
    # [qw, B', qh, hd] @ [qw, 1, hd, kw] -> [qw, B', qh, kw]
    along_w = (q.transpose(2, 0, 1, 3) @ rel_w[:, None].transpose(0, 1, 3, 2)).transpose(1, 2, 0, 3)
    return along_h[:, :, :, :, None], along_w[:, :, :, None, :]


@graph_hook
def attention(params: Mapping[str, np.ndarray], key: str, x: np.ndarray, num_heads: int,
              use_rel_pos: bool) -> np.ndarray:
    """Multi-head self-attention over the tokens of each grid: x [B', h, w, D] -> [B', h, w, D].

    B' is the number of windows (or images, for a global block); with ``use_rel_pos`` the
    scores get the decomposed relative-position bias of ``key.rel_pos_h/w``.
    """
    b, h, w, d = x.shape
    head_dim = d // num_heads
    # qkv [B', hw, 3D] -> [3, B' * heads, hw, hd]
    qkv = dense_layer(params, f"{key}.qkv", x).reshape(b, h * w, 3, num_heads, head_dim)
    qkv = qkv.transpose(2, 0, 3, 1, 4).reshape(3, b * num_heads, h * w, head_dim)
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = (q * np.float32(head_dim**-0.5)) @ k.transpose(0, 2, 1)  # [B' * heads, hw, hw]
    if use_rel_pos:
        rel_h = get_rel_pos(h, h, params[f"{key}.rel_pos_h"])
        rel_w = get_rel_pos(w, w, params[f"{key}.rel_pos_w"])
        bias_h, bias_w = decomposed_rel_pos(q.reshape(b * num_heads, h, w, head_dim), rel_h, rel_w)
        scores = (scores.reshape(b * num_heads, h, w, h, w) + bias_h + bias_w).reshape(b * num_heads, h * w, h * w)
    out = softmax(scores, axis=-1) @ v  # [B' * heads, hw, hd]
    out = out.reshape(b, num_heads, h, w, head_dim).transpose(0, 2, 3, 1, 4).reshape(b, h, w, d)
    return dense_layer(params, f"{key}.proj", out)


def mlp(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    """lin1, exact GELU, lin2: x [..., D] -> [..., D]."""
    return dense_layer(params, f"{key}.lin2", gelu(dense_layer(params, f"{key}.lin1", x)))


def norm(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    """LayerNorm over the last axis with eps 1e-6: x [..., D] -> [..., D]."""
    return layer_norm(x, params[f"{key}.weight"], params[f"{key}.bias"], eps=EPS)


def block(params: Mapping[str, np.ndarray], index: int, x: np.ndarray, config: EncoderConfig) -> np.ndarray:
    """ViT block ``index``: x [B, g, g, D] -> [B, g, g, D].

    Pre-norm attention (within windows, or global) with a residual, then a pre-norm MLP
    with a residual. Windows are cut after norm1, so padding tokens are zeros.
    """
    key = f"{IMAGE_ENCODER}blocks.{index}"
    window = config.block_window(index)
    shortcut = x
    x = norm(params, f"{key}.norm1", x)
    if window:
        batch, size = x.shape[0], (x.shape[1], x.shape[2])
        x = window_partition(x, window)
    x = attention(params, f"{key}.attn", x, config.num_heads, config.use_rel_pos)
    if window:
        x = window_unpartition(x, window, batch, size)
    x = shortcut + x
    return x + mlp(params, f"{key}.mlp", norm(params, f"{key}.norm2", x))


def conv3x3(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """3x3 conv, padding 1, no bias, channels-last: x [B, H, W, C], weight [C_out, C, 3, 3] -> [B, H, W, C_out].

    Each output pixel's 3x3 neighbourhood is gathered as 9 shifted views (im2col), then
    one product with the weights laid out as [C_out, (ky, kx, C)].
    """
    _, h, w, c = x.shape
    padded = zero_pad(x, 1, 1, 1, 1)
    patches = np.concatenate([padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=-1)
    return dense(patches, weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], 9 * c))


def neck(params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d: tokens [B, g, g, D] -> embedding [B, C_out, g, g].

    LayerNorm2d normalises each pixel over its channels, i.e. LayerNorm over the last
    axis of the channels-last tokens (eps 1e-6); the convs have no bias.
    """
    n = f"{IMAGE_ENCODER}neck"
    weight = params[f"{n}.0.weight"]
    x = norm(params, f"{n}.1", dense(x, weight.reshape(weight.shape[0], -1)))
    x = norm(params, f"{n}.3", conv3x3(x, params[f"{n}.2.weight"]))
    return x.transpose(0, 3, 1, 2)


def image_encoder(
    params: Mapping[str, np.ndarray],
    images: np.ndarray,
    config: EncoderConfig,
    on_block: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """SAM's image encoder: preprocessed images float32 [B, 3, S, S] -> embedding [B, C_out, g, g].

    ``params``: official keys ``image_encoder.*``; ``images``: normalised and zero padded
    to S = ``config.img_size`` (see ``samcore.spec.preprocess``). Patch embedding plus
    the absolute position embedding, ``config.depth`` blocks, then the neck.
    ``on_block(done, total)``, if given, is called after each block (progress reports).
    """
    x = patch_embed(params, images) + params[f"{IMAGE_ENCODER}pos_embed"]
    for index in range(config.depth):
        x = block(params, index, x, config)
        if on_block is not None:
            on_block(index + 1, config.depth)
    return neck(params, x)
