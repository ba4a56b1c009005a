"""SAM's image encoder (Meta's ``ImageEncoderViT``) as a native ``torch.nn.Module``.

The submodule names reproduce the official keys below ``image_encoder.``: ``patch_embed.proj``,
``pos_embed``, ``blocks.{i}.{norm1,attn.qkv,attn.proj,attn.rel_pos_h,attn.rel_pos_w,norm2,mlp.lin1,mlp.lin2}``,
``neck.{0,1,2,3}``. ``SamEncoder`` wraps it as ``image_encoder`` so a state_dict with the
official ``image_encoder.*`` keys loads strict.

Computed as Meta computes it, with one change of formulation: the attention (softmax of
q k^T / sqrt(d) plus the decomposed relative-position bias, times v) runs in
``scaled_dot_product_attention`` with the bias as its additive mask, which torch fuses
(no materialised probabilities on the CPU's flash kernel). The rel-pos bias itself is
Meta's ``add_decomposed_rel_pos``: rel_h [.., qh, qw, kh] + rel_w [.., qh, qw, kw] from the
unscaled queries, with ``get_rel_pos``'s linear interpolation when a stored table's length
differs from 2 * size - 1; it is built for chunks of query rows at a time (``BIAS_ELEMENTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from samcore.encoder_config import IMAGE_ENCODER, EncoderConfig
from samcore_torch.layers import LayerNorm2d

#: Most elements of one attention bias chunk (queries are chunked by grid rows to stay within it):
#: a global block of ViT-B in 7 chunks of up to 10 grid rows (126 MB of bias each, 805 MB at once).
BIAS_ELEMENTS = 1 << 25


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Meta's ``get_rel_pos``: the table rel_pos [L, d] -> [q_size, k_size, d], row i, column j
    holding the embedding of the offset i - j, linearly interpolated to 2 * max(q, k) - 1 rows
    when L differs."""
    max_rel_dist = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1), size=max_rel_dist,
                                mode="linear")
        rel_pos = resized.reshape(-1, max_rel_dist).permute(1, 0)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    relative = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[relative.long()]


class Attention(nn.Module):
    """Multi-head self-attention over a [B, H, W, C] grid of tokens, with decomposed relative
    positions (tables ``rel_pos_h`` [Lh, d], ``rel_pos_w`` [Lw, d], d = C / heads) when given."""

    def __init__(self, dim: int, num_heads: int, rel_pos_lengths: tuple[int, int] | None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = rel_pos_lengths is not None
        if rel_pos_lengths is not None:
            head_dim = dim // num_heads
            self.rel_pos_h = nn.Parameter(torch.zeros(rel_pos_lengths[0], head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(rel_pos_lengths[1], head_dim))

    def rel_pos_terms(self, q: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Unscaled queries q [B, heads, h*w, d] -> Meta's rel_h [B, heads, h, w, h] and rel_w
        [B, heads, h, w, w] (query row, query column, key row / key column)."""
        b, heads, _, d = q.shape
        r_q = q.reshape(b, heads, h, w, d)
        rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, get_rel_pos(h, h, self.rel_pos_h).to(q.dtype))
        rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, get_rel_pos(w, w, self.rel_pos_w).to(q.dtype))
        return rel_h, rel_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, H, W, C] -> [B, H, W, C]."""
        b, h, w, c = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [B, heads, N, d]
        if not self.use_rel_pos:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            rel_h, rel_w = self.rel_pos_terms(q, h, w)
            # Queries in chunks of whole rows whose bias [B, heads, rows * w, N] stays within
            # BIAS_ELEMENTS, so a global block never holds the whole bias.
            rows = max(1, BIAS_ELEMENTS // (b * self.num_heads * w * h * w))
            out = torch.cat([self._attend(q, k, v, rel_h, rel_w, top, min(rows, h - top))
                             for top in range(0, h, rows)], dim=2)
        return self.proj(out.transpose(1, 2).reshape(b, h, w, c))

    @staticmethod
    def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel_h: torch.Tensor, rel_w: torch.Tensor,
                top: int, rows: int) -> torch.Tensor:
        """softmax(q k^T / sqrt(d) + rel-pos bias) v for the queries of grid rows top..top+rows:
        q, k, v [B, heads, N, d] -> [B, heads, rows * w, d]."""
        b, heads, n, _ = q.shape
        w = rel_w.shape[3]
        bias = q.new_empty(b, heads, rows, w, rel_h.shape[4], w)  # contiguous: einsum outputs may be strided
        torch.add(rel_h[:, :, top : top + rows, :, :, None], rel_w[:, :, top : top + rows, :, None, :], out=bias)
        chunk = q[:, :, top * w : (top + rows) * w]
        return F.scaled_dot_product_attention(chunk, k, v, attn_mask=bias.reshape(b, heads, rows * w, n))


class MLPBlock(nn.Module):
    """``lin1``, exact GELU, ``lin2``: x [..., C] -> [..., C]."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., C] -> [..., C]."""
        return self.lin2(F.gelu(self.lin1(x)))


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """x [B, H, W, C], zero padded to multiples of ``window`` -> windows [B * nh * nw, window, window, C]
    and the padded size (Hp, Wp)."""
    b, h, w, c = x.shape
    pad_h, pad_w = -h % window, -w % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.reshape(b, hp // window, window, wp // window, window, c).transpose(2, 3)
    return x.reshape(-1, window, window, c), (hp, wp)


def window_unpartition(
    windows: torch.Tensor, window: int, padded: tuple[int, int], size: tuple[int, int]
) -> torch.Tensor:
    """windows [B * nh * nw, window, window, C] -> [B, H, W, C], the padding cut off."""
    (hp, wp), (h, w) = padded, size
    x = windows.reshape(-1, hp // window, wp // window, window, window, windows.shape[-1]).transpose(2, 3)
    return x.reshape(-1, hp, wp, windows.shape[-1])[:, :h, :w]


class Block(nn.Module):
    """Pre-norm transformer block: windowed (``window`` > 0) or global attention, then the MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, window: int,
                 rel_pos_lengths: tuple[int, int] | None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, rel_pos_lengths)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, mlp_dim)
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, H, W, C] -> [B, H, W, C]."""
        y = self.norm1(x)
        if self.window > 0:
            size = (x.shape[1], x.shape[2])
            y, padded = window_partition(y, self.window)
            y = window_unpartition(self.attn(y), self.window, padded, size)
        else:
            y = self.attn(y)
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Conv with kernel = stride = patch: images [B, 3, S, S] -> tokens [B, S/p, S/p, C]."""

    def __init__(self, patch: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] -> [B, S/p, S/p, C]."""
        return self.proj(x).permute(0, 2, 3, 1)


class ImageEncoderViT(nn.Module):
    """Meta's ViT image encoder: images [B, 3, S, S] (normalised, padded) -> [B, out_chans, S/p, S/p].

    ``rel_pos_lengths[i]``: the (Lh, Lw) lengths of block i's relative-position tables (None:
    no relative positions); Meta's own module has 2 * window - 1 (windowed blocks) and
    2 * S/p - 1 (global blocks), other lengths are interpolated at run time.
    """

    def __init__(self, img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, mlp_dim: int,
                 out_chans: int, window_size: int, global_attn_indexes: Sequence[int],
                 rel_pos_lengths: Sequence[tuple[int, int] | None], in_chans: int = 3) -> None:
        super().__init__()
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_dim, 0 if i in global_attn_indexes else window_size, rel_pos_lengths[i])
            for i in range(depth)
        )
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, images: torch.Tensor, on_block: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """images [B, 3, S, S] -> embeddings [B, out_chans, S/p, S/p]; ``on_block(done, total)``,
        if given, is called after each block (progress reports)."""
        x = self.patch_embed(images) + self.pos_embed
        for i, block in enumerate(self.blocks):
            x = block(x)
            if on_block is not None:
                on_block(i + 1, len(self.blocks))
        return self.neck(x.permute(0, 3, 1, 2))


class SamEncoder(nn.Module):
    """``image_encoder``: an ``ImageEncoderViT`` whose state_dict keys are the official ``image_encoder.*``."""

    def __init__(self, config: EncoderConfig, rel_pos_lengths: Sequence[tuple[int, int] | None]) -> None:
        """Zero-initialised modules of the sizes in ``config`` and the
        relative-position table lengths per block (load weights next)."""
        super().__init__()
        self.config = config
        self.image_encoder = ImageEncoderViT(
            config.img_size, config.patch_size, config.embed_dim, config.depth, config.num_heads,
            config.mlp_dim, config.out_chans, config.window_size,
            tuple(config.global_attn_indexes), rel_pos_lengths,
        )

    @classmethod
    def from_params(cls, params: Mapping[str, np.ndarray], config: EncoderConfig) -> SamEncoder:
        """A float32 CPU module in eval mode holding the ``image_encoder.*`` entries of ``params``
        (official key -> array); strict: every key of the module and no other ``image_encoder.*`` key."""
        tables = [f"{IMAGE_ENCODER}blocks.{i}.attn.rel_pos_{axis}" for i in range(config.depth) for axis in "hw"]
        lengths = [(params[h].shape[0], params[w].shape[0]) if config.use_rel_pos else None
                   for h, w in zip(tables[::2], tables[1::2], strict=True)]
        module = cls(config, lengths)
        state = {key: torch.tensor(np.asarray(value, np.float32)) for key, value in params.items()
                 if key.startswith(IMAGE_ENCODER)}
        module.load_state_dict(state, strict=True)
        return module.eval()

    def forward(self, images: torch.Tensor, on_block: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """images [B, 3, S, S] -> embeddings [B, out_chans, S/p, S/p] (``on_block``: see ``ImageEncoderViT``)."""
        return self.image_encoder(images, on_block)
