"""SAM's prompt encoder in torch: labelled points and mask logits to embeddings.

Mirrors ``samcore.spec.prompt_encoder`` (and Meta's ``PromptEncoder``); the
submodule names reproduce the official ``prompt_encoder.*`` state_dict keys.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from samcore.config import NUM_POINT_EMBEDDINGS
from samcore.spec.prompt_encoder import PADDING_LABEL
from samcore_torch.layers import LayerNorm2d


class PositionEmbeddingRandom(nn.Module):
    """Random-Fourier positional encoding with a fixed Gaussian matrix G [2, C/2] (a buffer)."""

    positional_encoding_gaussian_matrix: torch.Tensor

    def __init__(self, num_pos_feats: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_pos_feats))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Normalised coords [..., 2] (x, y in [0, 1]) -> [..., C]:
        ``[sin(2 pi (2c - 1) G), cos(2 pi (2c - 1) G)]``."""
        projected = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        projected = 2 * math.pi * projected
        return torch.cat([projected.sin(), projected.cos()], dim=-1)

    def dense(self, grid: tuple[int, int]) -> torch.Tensor:
        """The encoding of every cell centre of an (h, w) grid -> [C, h, w]."""
        h, w = grid
        g = self.positional_encoding_gaussian_matrix
        ys = (torch.arange(h, device=g.device, dtype=g.dtype) + 0.5) / h
        xs = (torch.arange(w, device=g.device, dtype=g.dtype) + 0.5) / w
        coords = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # [h, w, 2] as (x, y)
        return self(coords).permute(2, 0, 1)


class PromptEncoder(nn.Module):
    """Sparse embeddings of labelled points and the dense embedding of a mask prompt.

    C = ``embed_dim``; ``mask_in_chans`` is the width of the mask downscaler.
    """

    def __init__(self, embed_dim: int, mask_in_chans: int) -> None:
        super().__init__()
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(NUM_POINT_EMBEDDINGS))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def embed_points(
        self, coords: torch.Tensor, labels: torch.Tensor, input_size: tuple[int, int]
    ) -> torch.Tensor:
        """coords [B, N, 2] (x, y pixels of the input frame), labels [B, N] int in -1..3,
        input_size (H, W) -> sparse embeddings [B, N, C].

        Mask arithmetic, no boolean-index writes: padding points (-1) get only
        ``not_a_point_embed``; the others their pixel centre's encoding plus their label's
        learnt embedding. N may be 0.
        """
        frame_wh = coords.new_tensor([input_size[1], input_size[0]])
        encoding = self.pe_layer((coords + 0.5) / frame_wh)
        label = labels[..., None]
        embedding = encoding * (label != PADDING_LABEL).to(encoding.dtype)
        embedding = embedding + self.not_a_point_embed.weight * (label == PADDING_LABEL).to(encoding.dtype)
        for i, point_embedding in enumerate(self.point_embeddings):
            embedding = embedding + point_embedding.weight * (label == i).to(encoding.dtype)
        return embedding

    def embed_mask(self, mask_input: torch.Tensor) -> torch.Tensor:
        """Mask logits [B, 1, 4h, 4w] -> dense embeddings [B, C, h, w]."""
        return self.mask_downscaling(mask_input)

    def no_mask_embedding(self) -> torch.Tensor:
        """The dense embedding without a mask prompt, [1, C, 1, 1] (broadcasts over B, h, w)."""
        return self.no_mask_embed.weight[:, :, None, None]
