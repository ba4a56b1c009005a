"""DecoderConfig: the sizes of a SAM prompt encoder + mask decoder, and its presets.

(The image encoder's `EncoderConfig` lives in ``samcore.encoder_config`` and is
re-exported here, so both configs import from one place.)

One source of truth for the decoder's state_dict: `expected_shapes` names every
parameter (official key names) and its shape for a config, and `infer_config`
reads a config back from the shapes of a weights file.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Mapping

from samcore.encoder_config import ENCODER_PRESETS as ENCODER_PRESETS
from samcore.encoder_config import IMAGE_ENCODER as IMAGE_ENCODER
from samcore.encoder_config import EncoderConfig as EncoderConfig
from samcore.encoder_config import encoder_shapes as encoder_shapes
from samcore.errors import WeightsError
from samcore.layout import count_indices as _count
from samcore.layout import linear_shapes as _linear
from samcore.layout import norm_shapes as _norm
from samcore.layout import required_shape

PROMPT_ENCODER = "prompt_encoder."
MASK_DECODER = "mask_decoder."
TRANSFORMER = "mask_decoder.transformer."
#: Point labels: -1 padding ("not a point"), 0 background, 1 foreground,
#: 2 box top-left corner, 3 box bottom-right corner.
NUM_POINT_EMBEDDINGS = 4
#: Metadata key under which samcore stores what shapes cannot tell.
METADATA_KEY = "samcore.config"


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """Sizes of SAM's prompt encoder and mask decoder (defaults: every official model).

    ``input_image_size`` is the encoder's input frame (H, W) in pixels; ``None``
    means 16 x the embedding grid, as in SAM (1024 x 1024 for a 64 x 64 grid).
    """

    embed_dim: int = 256
    mlp_dim: int = 2048
    depth: int = 2
    num_heads: int = 8
    num_mask_tokens: int = 4
    iou_head_hidden_dim: int = 256
    iou_head_depth: int = 3
    mask_in_chans: int = 16
    attention_downsample_rate: int = 2
    input_image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.embed_dim % 8 or self.embed_dim <= 0:
            raise WeightsError(f"embed_dim must be a positive multiple of 8, got {self.embed_dim}")
        internal = self.embed_dim // self.attention_downsample_rate
        if internal % self.num_heads or self.embed_dim % self.num_heads:
            raise WeightsError(
                f"num_heads={self.num_heads} must divide embed_dim={self.embed_dim} and the "
                f"downsampled attention width {internal}"
            )
        if self.mask_in_chans % 4 or self.mask_in_chans <= 0:
            raise WeightsError(f"mask_in_chans must be a positive multiple of 4, got {self.mask_in_chans}")

    def frame_size(self, grid: tuple[int, int]) -> tuple[int, int]:
        """The input frame (H, W) in pixels for an embedding grid (h, w)."""
        if self.input_image_size is not None:
            return self.input_image_size
        return (16 * grid[0], 16 * grid[1])

    def metadata(self) -> dict[str, str]:
        """The safetensors metadata that records what shapes cannot tell."""
        extra = {"num_heads": self.num_heads, "input_image_size": self.input_image_size}
        return {METADATA_KEY: json.dumps(extra)}


#: The official checkpoints all share one decoder; they differ in the image encoder.
PRESETS: dict[str, DecoderConfig] = {
    "sam_vit_b": DecoderConfig(),
    "sam_vit_l": DecoderConfig(),
    "sam_vit_h": DecoderConfig(),
    "mobile_sam": DecoderConfig(),
}


def _attention(key: str, dim: int, internal: int) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for proj in ("q_proj", "k_proj", "v_proj"):
        shapes |= _linear(f"{key}.{proj}", internal, dim)
    return shapes | _linear(f"{key}.out_proj", dim, internal)


def _mlp(key: str, dims: list[int]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
        shapes |= _linear(f"{key}.layers.{i}", d_out, d_in)
    return shapes


def prompt_encoder_shapes(cfg: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """Official key -> shape of every prompt encoder parameter."""
    c, m = cfg.embed_dim, cfg.mask_in_chans
    p = PROMPT_ENCODER
    shapes: dict[str, tuple[int, ...]] = {
        f"{p}pe_layer.positional_encoding_gaussian_matrix": (2, c // 2),
        f"{p}not_a_point_embed.weight": (1, c),
        f"{p}no_mask_embed.weight": (1, c),
        f"{p}mask_downscaling.0.weight": (m // 4, 1, 2, 2),
        f"{p}mask_downscaling.0.bias": (m // 4,),
        f"{p}mask_downscaling.3.weight": (m, m // 4, 2, 2),
        f"{p}mask_downscaling.3.bias": (m,),
        f"{p}mask_downscaling.6.weight": (c, m, 1, 1),
        f"{p}mask_downscaling.6.bias": (c,),
    }
    for i in range(NUM_POINT_EMBEDDINGS):
        shapes[f"{p}point_embeddings.{i}.weight"] = (1, c)
    return shapes | _norm(f"{p}mask_downscaling.1", m // 4) | _norm(f"{p}mask_downscaling.4", m)


def transformer_shapes(cfg: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """Official key -> shape of every two-way transformer parameter."""
    c, t = cfg.embed_dim, TRANSFORMER
    down = c // cfg.attention_downsample_rate
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(cfg.depth):
        layer = f"{t}layers.{i}"
        shapes |= _attention(f"{layer}.self_attn", c, c)
        shapes |= _attention(f"{layer}.cross_attn_token_to_image", c, down)
        shapes |= _attention(f"{layer}.cross_attn_image_to_token", c, down)
        shapes |= _linear(f"{layer}.mlp.lin1", cfg.mlp_dim, c)
        shapes |= _linear(f"{layer}.mlp.lin2", c, cfg.mlp_dim)
        for n in range(1, 5):
            shapes |= _norm(f"{layer}.norm{n}", c)
    shapes |= _attention(f"{t}final_attn_token_to_image", c, down)
    return shapes | _norm(f"{t}norm_final_attn", c)


def mask_decoder_shapes(cfg: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """Official key -> shape of every mask decoder parameter (transformer included)."""
    c, d = cfg.embed_dim, MASK_DECODER
    shapes: dict[str, tuple[int, ...]] = {
        f"{d}iou_token.weight": (1, c),
        f"{d}mask_tokens.weight": (cfg.num_mask_tokens, c),
        f"{d}output_upscaling.0.weight": (c, c // 4, 2, 2),
        f"{d}output_upscaling.0.bias": (c // 4,),
        f"{d}output_upscaling.3.weight": (c // 4, c // 8, 2, 2),
        f"{d}output_upscaling.3.bias": (c // 8,),
    }
    shapes |= _norm(f"{d}output_upscaling.1", c // 4)
    for i in range(cfg.num_mask_tokens):
        shapes |= _mlp(f"{d}output_hypernetworks_mlps.{i}", [c, c, c, c // 8])
    iou_dims = [c] + [cfg.iou_head_hidden_dim] * (cfg.iou_head_depth - 1) + [cfg.num_mask_tokens]
    shapes |= _mlp(f"{d}iou_prediction_head", iou_dims)
    return shapes | transformer_shapes(cfg)


def expected_shapes(cfg: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """Official key -> shape of every parameter the decoder needs, for ``cfg``."""
    return prompt_encoder_shapes(cfg) | mask_decoder_shapes(cfg)


def _shape(shapes: Mapping[str, tuple[int, ...]], key: str) -> tuple[int, ...]:
    return required_shape(shapes, key, "decoder")


def infer_config(shapes: Mapping[str, tuple[int, ...]], metadata: Mapping[str, str] | None = None) -> DecoderConfig:
    """Read a DecoderConfig from parameter shapes (key -> shape) and safetensors metadata.

    Sizes come from the shapes; ``num_heads`` and ``input_image_size`` (which shapes
    cannot tell) from ``metadata[METADATA_KEY]`` when present, else SAM's defaults.
    """
    t = TRANSFORMER
    embed_dim = _shape(shapes, f"{MASK_DECODER}iou_token.weight")[1]
    internal = _shape(shapes, f"{t}final_attn_token_to_image.q_proj.weight")[0]
    extra = json.loads(metadata[METADATA_KEY]) if metadata and METADATA_KEY in metadata else {}
    size = extra.get("input_image_size")
    return DecoderConfig(
        embed_dim=embed_dim,
        mlp_dim=_shape(shapes, f"{t}layers.0.mlp.lin1.weight")[0],
        depth=_count(shapes, re.escape(f"{t}layers.") + r"(\d+)\.norm1\.weight"),
        num_heads=int(extra.get("num_heads", DecoderConfig.num_heads)),
        num_mask_tokens=_shape(shapes, f"{MASK_DECODER}mask_tokens.weight")[0],
        iou_head_hidden_dim=_shape(shapes, f"{MASK_DECODER}iou_prediction_head.layers.0.weight")[0],
        iou_head_depth=_count(shapes, re.escape(f"{MASK_DECODER}iou_prediction_head.layers.") + r"(\d+)\.weight"),
        mask_in_chans=_shape(shapes, f"{PROMPT_ENCODER}mask_downscaling.3.weight")[0],
        attention_downsample_rate=max(1, embed_dim // internal),
        input_image_size=tuple(size) if size else None,
    )
