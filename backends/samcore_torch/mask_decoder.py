"""SAM's mask decoder in torch: output tokens through the transformer, then masks and IoU.

Mirrors ``samcore.spec.mask_decoder`` (and Meta's ``MaskDecoder.predict_masks``);
the submodule names reproduce the official ``mask_decoder.*`` keys. T = number of
mask tokens (4 in every official model).
"""

from __future__ import annotations

import torch
from torch import nn

from samcore.config import DecoderConfig
from samcore_torch.layers import MLP, LayerNorm2d
from samcore_torch.transformer import TwoWayTransformer


class MaskDecoder(nn.Module):
    """The IoU token and T mask tokens attend with the prompts to the image; each mask
    token's hypernetwork weighs the upscaled image features into one mask."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        c = config.embed_dim
        self.transformer = TwoWayTransformer(
            config.depth, c, config.num_heads, config.mlp_dim, config.attention_downsample_rate
        )
        self.num_mask_tokens = config.num_mask_tokens
        self.iou_token = nn.Embedding(1, c)
        self.mask_tokens = nn.Embedding(config.num_mask_tokens, c)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(c, c // 4, kernel_size=2, stride=2),
            LayerNorm2d(c // 4),
            nn.GELU(),
            nn.ConvTranspose2d(c // 4, c // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(MLP([c, c, c, c // 8]) for _ in range(config.num_mask_tokens))
        hidden = [config.iou_head_hidden_dim] * (config.iou_head_depth - 1)
        self.iou_prediction_head = MLP([c, *hidden, config.num_mask_tokens])

    def forward(
        self, image_embedding: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All T masks for B prompts on one image.

        image_embedding [1, C, h, w], image_pe [C, h, w], sparse [B, N, C], dense
        [B or 1, C, h or 1, w or 1] -> (mask logits [B, T, 4h, 4w], IoU predictions [B, T]).
        """
        batch = sparse.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight])
        tokens = torch.cat([output_tokens.expand(batch, -1, -1), sparse], dim=1)
        src = image_embedding + dense  # batch 1 unless a mask prompt makes it B
        hs, image_tokens = self.transformer(src, image_pe, tokens)

        b, (c, h, w) = image_tokens.shape[0], src.shape[1:]
        upscaled = self.output_upscaling(image_tokens.transpose(1, 2).reshape(b, c, h, w))  # [B, C/8, 4h, 4w]
        mask_tokens = hs[:, 1 : 1 + self.num_mask_tokens]
        weights = torch.stack([mlp(mask_tokens[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], 1)
        masks = (weights @ upscaled.flatten(2)).view(batch, self.num_mask_tokens, *upscaled.shape[-2:])
        return masks, self.iou_prediction_head(hs[:, 0])
