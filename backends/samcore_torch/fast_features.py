"""The per-image work of torch's fast path (``samcore.fast.features``' algebra): what the
decoder needs of one image embedding, computed once by ``TorchBackend.set_image``."""

from __future__ import annotations

import dataclasses

import torch

from samcore_torch.fast_attention import split_heads
from samcore_torch.fast_upscaling import UpscalingTensors
from samcore_torch.module import SamDecoder


@dataclasses.dataclass(frozen=True)
class ImageFeatures:
    """What the decoder needs of one image embedding (``image_features``)."""

    tokens: torch.Tensor  # [1, HW, C] image tokens + the no-mask dense embedding
    pe: torch.Tensor  # [1, HW, C] dense positional encoding
    block0: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # [1, heads, HW, d] each: block 0's
    # token->image keys and values, image->token queries
    upscale_base: torch.Tensor  # [1, HW, 4 C/4] tokens @ G_0, the per-image part of ``upscale_input``
    embedding: torch.Tensor  # [1, C, h, w] the embedding itself (for prompts with mask input)


def image_side(
    module: SamDecoder, gemms: UpscalingTensors, tokens: torch.Tensor, pe: torch.Tensor
) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """What depends on the image tokens [B|1, HW, C] alone: block 0's image-side projections
    (three [B|1, heads, HW, d]) and ``upscale_input``'s base tokens @ G_0 [B|1, HW, 4 C/4]."""
    layer = module.mask_decoder.transformer.layers[0]
    t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
    with_pe = tokens + pe
    heads = t2i.num_heads
    block0 = (
        split_heads(t2i.k_proj(with_pe), heads),
        split_heads(t2i.v_proj(tokens), heads),
        split_heads(i2t.q_proj(with_pe), heads),
    )
    return block0, tokens @ gemms.chain[0]


def image_features(module: SamDecoder, gemms: UpscalingTensors, embedding: torch.Tensor) -> ImageFeatures:
    """The per-image work for an embedding [1, C, h, w] (prompts without mask input)."""
    encoder = module.prompt_encoder
    grid = (embedding.shape[-2], embedding.shape[-1])
    tokens = (embedding + encoder.no_mask_embedding()).flatten(2).transpose(1, 2).contiguous()
    pe = encoder.pe_layer.dense(grid).flatten(1).transpose(0, 1)[None].contiguous()
    block0, base = image_side(module, gemms, tokens, pe)
    return ImageFeatures(tokens, pe, block0, base, embedding)
