"""SAM's two-way transformer in torch: prompt tokens and image tokens attend to each other.

Mirrors ``samcore.spec.transformer`` (and Meta's ``TwoWayTransformer``); the
submodule names reproduce the official ``mask_decoder.transformer.*`` keys.
Shapes: B prompts, N tokens, HW image tokens, C channels. Image-side tensors may
have batch 1 and broadcast against the B prompts until they diverge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention with q/k/v/out projections and an internal width of
    ``embedding_dim / downsample_rate`` split into ``num_heads`` heads."""

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embedding_dim, internal_dim)
        self.k_proj = nn.Linear(embedding_dim, internal_dim)
        self.v_proj = nn.Linear(embedding_dim, internal_dim)
        self.out_proj = nn.Linear(internal_dim, embedding_dim)

    def _split_heads(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        """[1 or B, N, C'] -> [B, heads, N, C'/heads] (a view when the batch broadcasts)."""
        b, n, c = x.shape
        return x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2).expand(batch, -1, -1, -1)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q [B, Nq, C], k and v [B, Nk, C] (any of them may have batch 1) -> [B, Nq, C].

        Scores are scaled by 1/sqrt(head width), as in SAM.
        """
        batch = max(q.shape[0], k.shape[0], v.shape[0])
        q = self._split_heads(self.q_proj(q), batch)
        k = self._split_heads(self.k_proj(k), batch)
        v = self._split_heads(self.v_proj(v), batch)
        out = F.scaled_dot_product_attention(q, k, v)  # [B, heads, Nq, C'/heads]
        return self.out_proj(out.transpose(1, 2).flatten(2))


class MLPBlock(nn.Module):
    """``lin2(relu(lin1(x)))``: x [..., C] -> [..., C]."""

    def __init__(self, embedding_dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., C] -> [..., C]."""
        return self.lin2(torch.relu(self.lin1(x)))


class TwoWayAttentionBlock(nn.Module):
    """Token self-attention, tokens -> image, token MLP, image -> tokens; each step adds
    its residual and LayerNorms (block 0: self-attention without PE and residual)."""

    def __init__(
        self, embedding_dim: int, num_heads: int, mlp_dim: int, downsample_rate: int, skip_first_layer_pe: bool
    ) -> None:
        super().__init__()
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(embedding_dim, num_heads, downsample_rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLPBlock(embedding_dim, mlp_dim)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(embedding_dim, num_heads, downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor, key_pe: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries [B, N, C], keys [1 or B, HW, C], query_pe [B, N, C], key_pe [1, HW, C]
        -> (queries [B, N, C], keys [B, HW, C])."""
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)

        q, k = queries + query_pe, keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))
        queries = self.norm3(queries + self.mlp(queries))

        q, k = queries + query_pe, keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """``depth`` two-way blocks, then a final tokens -> image attention and LayerNorm."""

    def __init__(self, depth: int, embedding_dim: int, num_heads: int, mlp_dim: int, downsample_rate: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(embedding_dim, num_heads, mlp_dim, downsample_rate, skip_first_layer_pe=i == 0)
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(embedding_dim, num_heads, downsample_rate)
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(
        self, image_embedding: torch.Tensor, image_pe: torch.Tensor, point_embedding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """image_embedding [1 or B, C, h, w], image_pe [C, h, w], point_embedding [B, N, C]
        -> (tokens [B, N, C], image tokens [B, hw, C])."""
        keys = image_embedding.flatten(2).transpose(1, 2)
        key_pe = image_pe.flatten(1).transpose(0, 1)[None]
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, key_pe)
        q, k = queries + point_embedding, keys + key_pe
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, k, keys))
        return queries, keys
