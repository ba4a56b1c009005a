"""The default model: Meta's exact SAM modules at a small size, and its safetensors file.

The model is ``segment_anything.modeling.Sam`` built from Meta's own classes, so the
saved state_dict loads ``strict=True`` into Meta's ``Sam`` built from the configs
samcore reads back from the file (``EncoderConfig.from_shapes``, ``infer_config``).
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


def build_sam(encoder: EncoderConfig, decoder: DecoderConfig) -> torch.nn.Module:
    """Meta's ``Sam`` (image encoder, prompt encoder, mask decoder) at the sizes of the two configs."""
    grid, size = encoder.grid_size, encoder.img_size
    image_encoder = modeling.ImageEncoderViT(
        img_size=size, patch_size=encoder.patch_size, embed_dim=encoder.embed_dim, depth=encoder.depth,
        num_heads=encoder.num_heads, mlp_ratio=encoder.mlp_ratio, out_chans=encoder.out_chans, qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=encoder.use_rel_pos,
        window_size=encoder.window_size, global_attn_indexes=encoder.global_attn_indexes,
    )
    prompt_encoder = modeling.PromptEncoder(
        embed_dim=decoder.embed_dim,
        image_embedding_size=(grid, grid),
        input_image_size=decoder.frame_size((grid, grid)),
        mask_in_chans=decoder.mask_in_chans,
    )
    mask_decoder = modeling.MaskDecoder(
        num_multimask_outputs=decoder.num_mask_tokens - 1,
        transformer=modeling.TwoWayTransformer(
            depth=decoder.depth, embedding_dim=decoder.embed_dim, mlp_dim=decoder.mlp_dim,
            num_heads=decoder.num_heads, attention_downsample_rate=decoder.attention_downsample_rate,
        ),
        transformer_dim=decoder.embed_dim,
        iou_head_depth=decoder.iou_head_depth,
        iou_head_hidden_dim=decoder.iou_head_hidden_dim,
    )
    return modeling.Sam(image_encoder, prompt_encoder, mask_decoder, encoder.pixel_mean, encoder.pixel_std)


def save_model(sam: torch.nn.Module, cfg: TinySamConfig, path: str, extra: dict[str, str] | None = None) -> None:
    """Write ``sam``'s state_dict as float32 safetensors: official keys, both configs in the metadata."""
    tensors = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in sam.state_dict().items()}
    metadata = cfg.decoder_config().metadata() | cfg.encoder_config().metadata() | {
        "samcore.model": "samcore_default_sam",
        "samcore.training_config": json.dumps(dataclasses.asdict(cfg)),
    }
    save_tensors(path, tensors, metadata | (extra or {}))
