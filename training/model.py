"""The default model: Meta's exact SAM modules at a small size, and its safetensors file.

The model is ``segment_anything.modeling.Sam`` built from Meta's own classes, so the
saved state_dict loads ``strict=True`` into Meta's ``Sam`` built with ``TinySamConfig``.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import torch

from samcore.config import DecoderConfig, EncoderConfig
from samcore.conformance.official import modeling
from samcore.weights import save_tensors


@dataclasses.dataclass(frozen=True)
class TinySamConfig:
    """Sizes of the default model (image 128 px, patch 8 -> a 16 x 16 embedding grid)."""

    img_size: int = 128
    patch_size: int = 8
    encoder_dim: int = 96
    encoder_depth: int = 4
    encoder_heads: int = 3
    window_size: int = 8
    global_attn_indexes: tuple[int, ...] = (1, 3)
    prompt_dim: int = 64
    decoder_mlp_dim: int = 256
    decoder_heads: int = 4
    iou_head_hidden_dim: int = 64

    @property
    def grid(self) -> int:
        """Side of the embedding grid (img_size / patch_size)."""
        return self.img_size // self.patch_size

    def decoder_config(self) -> DecoderConfig:
        """The samcore DecoderConfig of this model's prompt encoder + mask decoder."""
        return DecoderConfig(
            embed_dim=self.prompt_dim,
            mlp_dim=self.decoder_mlp_dim,
            num_heads=self.decoder_heads,
            iou_head_hidden_dim=self.iou_head_hidden_dim,
            input_image_size=(self.img_size, self.img_size),
        )

    def encoder_config(self) -> EncoderConfig:
        """The samcore EncoderConfig of this model's image encoder (Meta's pixel mean / std)."""
        return EncoderConfig(
            img_size=self.img_size,
            patch_size=self.patch_size,
            embed_dim=self.encoder_dim,
            depth=self.encoder_depth,
            num_heads=self.encoder_heads,
            out_chans=self.prompt_dim,
            window_size=self.window_size,
            global_attn_indexes=self.global_attn_indexes,
        )


def build_sam(cfg: TinySamConfig) -> torch.nn.Module:
    """Meta's ``Sam`` (image encoder, prompt encoder, mask decoder) at the sizes of ``cfg``."""
    enc = cfg.encoder_config()
    image_encoder = modeling.ImageEncoderViT(
        img_size=enc.img_size, patch_size=enc.patch_size, embed_dim=enc.embed_dim, depth=enc.depth,
        num_heads=enc.num_heads, mlp_ratio=enc.mlp_ratio, out_chans=enc.out_chans, qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=enc.use_rel_pos,
        window_size=enc.window_size, global_attn_indexes=enc.global_attn_indexes,
    )
    prompt_encoder = modeling.PromptEncoder(
        embed_dim=cfg.prompt_dim,
        image_embedding_size=(cfg.grid, cfg.grid),
        input_image_size=(cfg.img_size, cfg.img_size),
        mask_in_chans=16,
    )
    mask_decoder = modeling.MaskDecoder(
        num_multimask_outputs=3,
        transformer=modeling.TwoWayTransformer(
            depth=2, embedding_dim=cfg.prompt_dim, mlp_dim=cfg.decoder_mlp_dim, num_heads=cfg.decoder_heads
        ),
        transformer_dim=cfg.prompt_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=cfg.iou_head_hidden_dim,
    )
    return modeling.Sam(image_encoder, prompt_encoder, mask_decoder, pixel_mean=enc.pixel_mean, pixel_std=enc.pixel_std)


def save_model(sam: torch.nn.Module, cfg: TinySamConfig, path: str, extra: dict[str, str] | None = None) -> None:
    """Write ``sam``'s state_dict as float32 safetensors: official keys, both configs in the metadata."""
    tensors = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in sam.state_dict().items()}
    metadata = cfg.decoder_config().metadata() | cfg.encoder_config().metadata() | {
        "samcore.model": "samcore_default_sam",
        "samcore.training_config": json.dumps(dataclasses.asdict(cfg)),
    }
    save_tensors(path, tensors, metadata | (extra or {}))
