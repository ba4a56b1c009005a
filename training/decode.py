"""Running Meta's prompt encoder and mask decoder on prompts from many images at once.

``MaskDecoder.predict_masks`` repeats one image's embedding for all its prompts;
training batches prompts from different images, so ``decode`` gives each prompt its
own embedding row and otherwise runs the same modules in the same order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from samcore.spec.prompt_encoder import BOX_CORNER_LABELS, gather_point_prompts


def embed_prompts(
    prompt_encoder: torch.nn.Module,
    coords: np.ndarray | None,
    labels: np.ndarray | None,
    boxes: np.ndarray | None,
    mask_input: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse [P, N, C] and dense [P, C, h, w] embeddings, prompts laid out as SamPredictor does.

    coords float [P, n, 2] (x, y) and labels int [P, n] in the input frame, boxes [P, 4],
    mask_input [P, 1, 4h, 4w] logits or None.
    """
    points, point_labels = gather_point_prompts(coords, labels, boxes)
    point_labels = torch.from_numpy(point_labels)
    sparse = prompt_encoder._embed_points(torch.from_numpy(points), point_labels, pad=False)
    for corner in BOX_CORNER_LABELS:  # _embed_points knows labels -1, 0, 1; _embed_boxes adds these
        sparse = sparse + (point_labels == corner)[..., None] * prompt_encoder.point_embeddings[corner].weight
    if mask_input is None:
        h, w = prompt_encoder.image_embedding_size
        dense = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(len(points), -1, h, w)
    else:
        dense = prompt_encoder._embed_masks(mask_input)
    return sparse, dense


def decode(
    mask_decoder: torch.nn.Module,
    embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse: torch.Tensor,
    dense: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All 4 mask logits [P, 4, 4h, 4w] and IoU predictions [P, 4]; embeddings [P, C, h, w], one per prompt."""
    md = mask_decoder
    output_tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
    tokens = torch.cat((output_tokens.unsqueeze(0).expand(sparse.size(0), -1, -1), sparse), dim=1)
    src = embeddings + dense
    pos_src = image_pe.expand(src.shape[0], -1, -1, -1)
    b, c, h, w = src.shape
    hs, src = md.transformer(src, pos_src, tokens)
    iou_token_out, mask_tokens_out = hs[:, 0, :], hs[:, 1 : 1 + md.num_mask_tokens, :]
    upscaled = md.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
    hyper_in = torch.stack([mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(md.output_hypernetworks_mlps)], 1)
    b, c, h, w = upscaled.shape
    masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
    return masks, md.iou_prediction_head(iou_token_out)


def upscale(low_res: torch.Tensor, size: int) -> torch.Tensor:
    """Low-res logits [P, M, 4h, 4w] to the square input frame [P, M, size, size], as Sam.postprocess_masks."""
    return F.interpolate(low_res, (size, size), mode="bilinear", align_corners=False)
