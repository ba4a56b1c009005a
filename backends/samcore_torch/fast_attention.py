"""Attention in torch's fast path (``samcore.fast.attention``'s algebra): block 0's cached
image projections reused, and the products with the image tokens reassociated.

Shapes: B prompts, N tokens, HW image tokens, C channels, heads of width d. Image-side
tensors may have batch 1 and broadcast against the B prompts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from samcore_torch.transformer import Attention


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, N, heads d] -> [B, heads, N, d] (a view)."""
    b, n, c = x.shape
    return x.view(b, n, heads, c // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, heads, N, d] -> [B, N, heads d]."""
    b, heads, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, heads * d)


def attend_cached_image(
    attn: Attention, q: torch.Tensor, image_keys: torch.Tensor, image_values: torch.Tensor
) -> torch.Tensor:
    """Tokens [B, N, C] attend to projected image keys/values [1|B, heads, HW, d] -> [B, N, C]."""
    qh = split_heads(attn.q_proj(q), attn.num_heads)
    batch = qh.shape[0]
    out = F.scaled_dot_product_attention(
        qh, image_keys.expand(batch, -1, -1, -1), image_values.expand(batch, -1, -1, -1)
    )
    return attn.out_proj(merge_heads(out))


def attend_image(attn: Attention, q: torch.Tensor, image: torch.Tensor, image_pe: torch.Tensor) -> torch.Tensor:
    """Tokens [B, N, C] attend to image tokens [B, HW, C] (keys from ``image_pe`` = image + pe),
    reassociated: scores ``(q_h Wk_h) (X + PE)^T``, values ``(A X) Wv_h^T`` (the key bias cancels
    in the softmax, the value bias passes through: rows sum to one)."""
    b, n, _ = q.shape
    heads = attn.num_heads
    wk, wv = attn.k_proj.weight, attn.v_proj.weight  # [C', C]
    d = wk.shape[0] // heads
    qh = split_heads(attn.q_proj(q), heads)
    g = ((qh * (1 / math.sqrt(d))) @ wk.view(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads N, C]
    scores = g @ image_pe.transpose(1, 2)  # [B, heads N, HW]
    r = (torch.softmax(scores, dim=-1) @ image).view(b, heads, n, -1)  # [B, heads, N, C]
    out = r @ wv.view(heads, d, -1).transpose(1, 2) + attn.v_proj.bias.view(heads, 1, d)
    return attn.out_proj(merge_heads(out))


def image_attention(
    attn: Attention, scores: torch.Tensor, v_tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image tokens attend to tokens, given the scaled scores [B, heads, N, HW] (token-major:
    each softmax runs down a column) -> (weights [B, heads N, HW], u [B, heads N, C]), the
    output being weights^T u [B, HW, C]: ``sum_h A_h (v_h Wo_h^T)``, the output bias as
    ``bias / heads`` on every row of u (each head's softmax sums to one)."""
    b, heads, n, hw = scores.shape
    wo = attn.out_proj.weight  # [C, C']
    d = wo.shape[1] // heads
    vh = split_heads(attn.v_proj(v_tokens), heads)
    u = (vh @ wo.t().reshape(heads, d, -1)).reshape(b, heads * n, -1) + attn.out_proj.bias / heads
    return torch.softmax(scores, dim=-2).reshape(b, heads * n, hw), u


def token_keys(attn: Attention, k_tokens: torch.Tensor) -> torch.Tensor:
    """Token keys [B, N, C] -> [B, heads, N, d], scaled by 1/sqrt(d) for the scores."""
    kh = split_heads(attn.k_proj(k_tokens), attn.num_heads)
    return kh * (1 / math.sqrt(kh.shape[-1]))


def image_attention_cached(
    attn: Attention, image_queries: torch.Tensor, k_tokens: torch.Tensor, v_tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image (projected queries [1|B, heads, HW, d]) attends to tokens [B, N, C] -> ``image_attention``'s factors."""
    scores = token_keys(attn, k_tokens) @ image_queries.transpose(2, 3)  # [B, heads, N, HW]
    return image_attention(attn, scores, v_tokens)


def image_attention_reassociated(
    attn: Attention, image_pe: torch.Tensor, k_tokens: torch.Tensor, v_tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image tokens (queries from ``image_pe`` = image + pe [B, HW, C]) attend to tokens [B, N, C]
    -> ``image_attention``'s factors: scores ``(k_h Wq_h) (X + PE)^T`` plus ``k_h . bq_h``."""
    b, n, _ = k_tokens.shape
    heads = attn.num_heads
    wq = attn.q_proj.weight  # [C', C]
    d = wq.shape[0] // heads
    kh = token_keys(attn, k_tokens)  # [B, heads, N, d]
    p = (kh @ wq.view(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads N, C]
    bias = kh @ attn.q_proj.bias.view(heads, d, 1)  # [B, heads, N, 1]
    scores = (p @ image_pe.transpose(1, 2)).view(b, heads, n, -1) + bias
    return image_attention(attn, scores, v_tokens)
