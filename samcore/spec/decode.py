"""The whole decoder: prompts + one image embedding -> mask logits and IoU scores.

Equal to Meta's ``sam.mask_decoder(image_embeddings, sam.prompt_encoder.get_dense_pe(),
*sam.prompt_encoder(points, boxes, masks), multimask_output)``. Inputs are assumed
already checked (``samcore.inputs``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from samcore.config import DecoderConfig
from samcore.spec.mask_decoder import predict_masks, select_masks
from samcore.spec.prompt_encoder import (
    dense_positional_encoding,
    embed_mask,
    embed_points,
    gather_point_prompts,
    no_mask_embedding,
)


def decode_all_tokens(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    image_embedding: np.ndarray,
    point_coords: np.ndarray | None,
    point_labels: np.ndarray | None,
    boxes: np.ndarray | None,
    mask_input: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every mask token's output for B prompts on one image embedding.

    image_embedding [1, C, h, w]; point_coords [B, N, 2] and point_labels [B, N]
    (x, y pixels of the input frame); boxes [B, 4] (x0, y0, x1, y1); mask_input
    [B, 1, 4h, 4w] logits. Returns (low-res logits [B, T, 4h, 4w], IoU [B, T]).
    At least one prompt kind is given.
    """
    grid = image_embedding.shape[-2:]
    if point_coords is not None or boxes is not None:
        coords, labels = gather_point_prompts(point_coords, point_labels, boxes)
        sparse = embed_points(params, coords, labels, config.frame_size(grid))
    else:
        sparse = np.zeros((mask_input.shape[0], 0, config.embed_dim), np.float32)
    batch = sparse.shape[0]
    dense = embed_mask(params, mask_input) if mask_input is not None else no_mask_embedding(params, batch, grid)
    image_pe = dense_positional_encoding(params, grid)
    return predict_masks(params, image_embedding, image_pe, sparse, dense, config.depth, config.num_heads)


def decode(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    image_embedding: np.ndarray,
    point_coords: np.ndarray | None,
    point_labels: np.ndarray | None,
    boxes: np.ndarray | None,
    mask_input: np.ndarray | None,
    multimask_output: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``decode_all_tokens`` then SAM's selection: logits [B, M, 4h, 4w], IoU [B, M],
    M = T-1 masks with ``multimask_output`` else 1 (token 0)."""
    masks, iou = decode_all_tokens(params, config, image_embedding, point_coords, point_labels, boxes, mask_input)
    return select_masks(masks, iou, multimask_output)
