"""SAM's prompt encoder: points, boxes and masks to sparse and dense embeddings.

Mirrors ``segment_anything/modeling/prompt_encoder.py``. Points are embedded with
mask arithmetic (no boolean-index writes), the form of Meta's ONNX export
(``SamOnnxModel._embed_points``), so one spec serves both eager code and graphs.
Box corners are points labelled 2 (top-left) and 3 (bottom-right).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from samcore.config import NUM_POINT_EMBEDDINGS, PROMPT_ENCODER
from samcore.spec.ops import conv2d, gelu, graph_hook, layer_norm_2d

P = PROMPT_ENCODER
PADDING_LABEL = -1
BOX_CORNER_LABELS = (2, 3)


def positional_encoding(params: Mapping[str, np.ndarray], coords: np.ndarray) -> np.ndarray:
    """Random-Fourier encoding of normalised coords [..., 2] (x, y in [0, 1]) -> [..., C].

    ``[sin(2 pi (2c - 1) G), cos(2 pi (2c - 1) G)]`` with G the [2, C/2] Gaussian matrix.
    """
    gaussian = params[f"{P}pe_layer.positional_encoding_gaussian_matrix"]
    projected = (2 * coords - 1) @ gaussian
    projected = np.float32(2 * np.pi) * projected
    return np.concatenate([np.sin(projected), np.cos(projected)], axis=-1)


def cell_centres(grid: tuple[int, int]) -> np.ndarray:
    """The normalised centres of an (h, w) grid's cells -> [h, w, 2] float32 as (x, y) in (0, 1)."""
    h, w = grid
    ys = (np.arange(h, dtype=np.float32) + np.float32(0.5)) / np.float32(h)
    xs = (np.arange(w, dtype=np.float32) + np.float32(0.5)) / np.float32(w)
    return np.stack(np.meshgrid(xs, ys), axis=-1)


def dense_positional_encoding(params: Mapping[str, np.ndarray], grid: tuple[int, int]) -> np.ndarray:
    """Positional encoding of every cell centre of an (h, w) grid -> [C, h, w]."""
    return positional_encoding(params, cell_centres(grid)).transpose(2, 0, 1)


def gather_point_prompts(
    point_coords: np.ndarray | None,
    point_labels: np.ndarray | None,
    boxes: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """All sparse prompts as labelled points: coords [B, N', 2] float32, labels [B, N'] int64.

    Order as in SAM: the given points, then a padding point (0, 0) labelled -1 when
    there is no box, then each box's two corners labelled 2 and 3.
    """
    coords, labels = [], []
    if point_coords is not None:
        batch = point_coords.shape[0]
        coords.append(point_coords)
        labels.append(point_labels)
        if boxes is None:
            coords.append(np.zeros((batch, 1, 2), np.float32))
            labels.append(np.full((batch, 1), PADDING_LABEL, np.int64))
    if boxes is not None:
        batch = boxes.shape[0]
        coords.append(boxes.reshape(batch, 2, 2))
        labels.append(np.broadcast_to(np.array(BOX_CORNER_LABELS, np.int64), (batch, 2)))
    return np.concatenate(coords, axis=1).astype(np.float32), np.concatenate(labels, axis=1).astype(np.int64)


def embed_points(
    params: Mapping[str, np.ndarray],
    coords: np.ndarray,
    labels: np.ndarray,
    input_size: tuple[int, int],
) -> np.ndarray:
    """Sparse embeddings of labelled points: coords [B, N, 2] (x, y pixels of the
    input frame), labels [B, N] in -1..3, input_size (H, W) -> [B, N, C].

    Padding points (-1) get only ``not_a_point_embed``; every other point gets the
    encoding of its pixel centre plus the learnt embedding of its label.
    """
    frame_wh = np.array([input_size[1], input_size[0]], np.float32)
    encoding = positional_encoding(params, (coords + np.float32(0.5)) / frame_wh)
    label = labels[..., None]
    embedding = encoding * (label != PADDING_LABEL)
    embedding = embedding + params[f"{P}not_a_point_embed.weight"] * (label == PADDING_LABEL)
    for i in range(NUM_POINT_EMBEDDINGS):
        embedding = embedding + params[f"{P}point_embeddings.{i}.weight"] * (label == i)
    return embedding.astype(np.float32)


def embed_mask(params: Mapping[str, np.ndarray], mask_input: np.ndarray) -> np.ndarray:
    """Dense embedding of mask logits [B, 1, 4h, 4w] -> [B, C, h, w].

    conv 2x2/2 -> LayerNorm2d -> GELU -> conv 2x2/2 -> LayerNorm2d -> GELU -> conv 1x1.
    """
    k = f"{P}mask_downscaling"
    x = conv2d(mask_input, params[f"{k}.0.weight"], params[f"{k}.0.bias"])
    x = gelu(layer_norm_2d(x, params[f"{k}.1.weight"], params[f"{k}.1.bias"]))
    x = conv2d(x, params[f"{k}.3.weight"], params[f"{k}.3.bias"])
    x = gelu(layer_norm_2d(x, params[f"{k}.4.weight"], params[f"{k}.4.bias"]))
    return conv2d(x, params[f"{k}.6.weight"], params[f"{k}.6.bias"])


@graph_hook  # a graph broadcasts to a batch known only at run time
def no_mask_embedding(params: Mapping[str, np.ndarray], batch: int, grid: tuple[int, int]) -> np.ndarray:
    """Dense embedding when no mask is given: ``no_mask_embed`` at every cell -> [B, C, h, w]."""
    weight = params[f"{P}no_mask_embed.weight"]
    return np.broadcast_to(weight.reshape(1, -1, 1, 1), (batch, weight.shape[1], *grid))
