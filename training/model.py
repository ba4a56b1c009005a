"""The default model: Meta's exact SAM modules at a small size, and its safetensors file.

The model is ``segment_anything.modeling.Sam`` built from Meta's own classes, so the
saved state_dict loads ``strict=True`` into Meta's ``Sam`` built from the configs
samcore reads back from the file (``EncoderConfig.from_shapes``, ``infer_config``).
"""

from __future__ import annotations

import numpy as np
import torch

from samcore.config import DecoderConfig, EncoderConfig
from samcore.conformance.official import modeling, new_image_encoder, new_prompt_and_mask_decoder
from samcore.weights import save_tensors

#: Image 128 px, patch 8 -> a 16 x 16 grid; Meta's pixel mean / std.
ENCODER = EncoderConfig(
    img_size=128, patch_size=8, embed_dim=96, depth=4, num_heads=3, out_chans=64, window_size=8,
    global_attn_indexes=(1, 3),
)
DECODER = DecoderConfig(embed_dim=64, mlp_dim=256, num_heads=4, iou_head_hidden_dim=64, input_image_size=(128, 128))


def build_sam(encoder: EncoderConfig, decoder: DecoderConfig) -> torch.nn.Module:
    """Meta's ``Sam`` (image encoder, prompt encoder, mask decoder) at the sizes of the two configs."""
    image_encoder = new_image_encoder(encoder)  # first: the order of initialisation is the seed's use
    prompt_encoder, mask_decoder = new_prompt_and_mask_decoder(decoder, encoder.grid_size)
    return modeling.Sam(image_encoder, prompt_encoder, mask_decoder, encoder.pixel_mean, encoder.pixel_std)


def save_model(sam: torch.nn.Module, path: str, extra: dict[str, str] | None = None) -> None:
    """Write ``sam``'s state_dict as float32 safetensors: official keys, both configs in the metadata."""
    tensors = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in sam.state_dict().items()}
    metadata = DECODER.metadata() | ENCODER.metadata() | {"samcore.model": "samcore_default_sam"}
    save_tensors(path, tensors, metadata | (extra or {}))
