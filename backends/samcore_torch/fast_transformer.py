"""The two-way transformer of torch's fast path (``samcore.fast.transformer``'s algebra): the
module's layers, with the image-side attention reassociated and each layer's image update
kept for ``upscale_input`` instead of the updated image being projected again."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from samcore_torch.fast_attention import (
    attend_cached_image,
    attend_image,
    image_attention_cached,
    image_attention_reassociated,
)
from samcore_torch.fast_upscaling import ImageUpdate
from samcore_torch.transformer import TwoWayTransformer


def transformer(
    module: TwoWayTransformer,
    image: torch.Tensor,
    pe: torch.Tensor,
    block0: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    point_embedding: torch.Tensor,
) -> tuple[torch.Tensor, list[ImageUpdate]]:
    """The two-way transformer on image tokens [1|B, HW, C] (positional encoding ``pe`` [1, HW, C])
    with block 0's image-side projections ``block0`` and prompt tokens [B, N, C]
    -> (tokens [B, N, C], each layer's ``ImageUpdate``)."""
    queries, qpe = point_embedding, point_embedding
    updates = []
    for i, layer in enumerate(module.layers):
        if i == 0:
            queries = layer.self_attn(queries, queries, queries)
        else:
            q = queries + qpe
            queries = queries + layer.self_attn(q, q, queries)
        queries = layer.norm1(queries)
        t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
        if i == 0:
            out = attend_cached_image(t2i, queries + qpe, block0[0], block0[1])
        else:
            image_pe = image + pe
            out = attend_image(t2i, queries + qpe, image, image_pe)
        queries = layer.norm2(queries + out)
        queries = layer.norm3(queries + layer.mlp(queries))
        if i == 0:
            weights, u = image_attention_cached(i2t, block0[2], queries + qpe, queries)
        else:
            weights, u = image_attention_reassociated(i2t, image_pe, queries + qpe, queries)
        norm = layer.norm4
        updated = torch.baddbmm(image.expand(weights.shape[0], -1, -1), weights.transpose(1, 2), u)
        image, mean, inv_std = torch.native_layer_norm(updated, norm.normalized_shape, norm.weight, norm.bias,
                                                       norm.eps)
        updates.append(ImageUpdate(weights, u, mean, inv_std))
    out = attend_image(module.final_attn_token_to_image, queries + qpe, image, image + pe)
    norm = module.norm_final_attn
    return F.layer_norm(queries + out, norm.normalized_shape, norm.weight, norm.bias, norm.eps), updates
