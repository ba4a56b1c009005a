"""The default model: Meta's exact SAM modules at a small size, and its safetensors file.

The model is ``segment_anything.modeling.Sam`` built from Meta's own classes, so the
saved state_dict loads ``strict=True`` into Meta's ``Sam`` built with ``TinySamConfig``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch

from samcore.conformance.official import modeling
from samcore.config import DecoderConfig
from samcore.weights import save_tensors

#: Metadata key of the image encoder's config (what its parameter shapes cannot tell).
ENCODER_METADATA_KEY = "samcore.encoder_config"
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


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

    def encoder_metadata(self) -> dict[str, object]:
        """Keyword arguments of Meta's ImageEncoderViT for this model, plus pixel mean / std."""
        return {
            "img_size": self.img_size,
            "patch_size": self.patch_size,
            "embed_dim": self.encoder_dim,
            "depth": self.encoder_depth,
            "num_heads": self.encoder_heads,
            "mlp_ratio": 4.0,
            "out_chans": self.prompt_dim,
            "qkv_bias": True,
            "use_rel_pos": True,
            "window_size": self.window_size,
            "global_attn_indexes": list(self.global_attn_indexes),
            "pixel_mean": list(PIXEL_MEAN),
            "pixel_std": list(PIXEL_STD),
        }


def build_sam(cfg: TinySamConfig) -> torch.nn.Module:
    """Meta's ``Sam`` (image encoder, prompt encoder, mask decoder) at the sizes of ``cfg``."""
    enc = cfg.encoder_metadata()
    image_encoder = modeling.ImageEncoderViT(
        **{k: v for k, v in enc.items() if k not in ("pixel_mean", "pixel_std", "global_attn_indexes")},
        global_attn_indexes=cfg.global_attn_indexes,
        norm_layer=lambda dim: torch.nn.LayerNorm(dim, eps=1e-6),
        act_layer=torch.nn.GELU,
        rel_pos_zero_init=True,
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
    return modeling.Sam(image_encoder, prompt_encoder, mask_decoder, pixel_mean=PIXEL_MEAN, pixel_std=PIXEL_STD)


def save_model(sam: torch.nn.Module, cfg: TinySamConfig, path: str, extra: dict[str, str] | None = None) -> None:
    """Write ``sam``'s state_dict as float32 safetensors: official keys, both configs in the metadata."""
    tensors = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in sam.state_dict().items()}
    metadata = cfg.decoder_config().metadata() | {
        ENCODER_METADATA_KEY: json.dumps(cfg.encoder_metadata()),
        "samcore.model": "samcore_default_sam",
        "samcore.training_config": json.dumps(dataclasses.asdict(cfg)),
    }
    save_tensors(path, tensors, metadata | (extra or {}))
