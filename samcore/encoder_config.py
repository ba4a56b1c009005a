"""EncoderConfig: the sizes of SAM's ViT image encoder, its presets, and inference from shapes.

One source of truth for the encoder's state_dict (official key names under
``image_encoder.``): `encoder_shapes` names every parameter and its shape for a
config, and `EncoderConfig.from_shapes` reads a config back from a weights file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

import numpy as np

from samcore.errors import WeightsError
from samcore.layout import count_indices, linear_shapes, norm_shapes, required_shape

IMAGE_ENCODER = "image_encoder."
#: Metadata key under which samcore stores what the encoder's shapes cannot tell.
ENCODER_METADATA_KEY = "samcore.encoder_config"
#: What ``Sam`` normalises input pixels with (RGB, 0-255); buffers not saved in checkpoints.
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)
#: Fields a weights file's metadata may set (the ones shapes cannot always tell).
_METADATA_FIELDS = ("num_heads", "window_size", "global_attn_indexes", "pixel_mean", "pixel_std")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Sizes of Meta's ``ImageEncoderViT`` (defaults: ViT-B) and the pixel normalisation.

    ``img_size`` is the square input frame (pixels), ``patch_size`` the patch
    embedding's kernel and stride, so the embedding grid is ``img_size // patch_size``
    on each side. Blocks listed in ``global_attn_indexes`` attend over the whole grid,
    the others within ``window_size`` x ``window_size`` windows (0: every block global).
    """

    img_size: int = 1024
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    out_chans: int = 256
    window_size: int = 14
    global_attn_indexes: tuple[int, ...] = (2, 5, 8, 11)
    use_rel_pos: bool = True
    pixel_mean: tuple[float, float, float] = PIXEL_MEAN
    pixel_std: tuple[float, float, float] = PIXEL_STD

    def __post_init__(self) -> None:
        object.__setattr__(self, "global_attn_indexes", tuple(int(i) for i in self.global_attn_indexes))
        object.__setattr__(self, "pixel_mean", tuple(float(v) for v in self.pixel_mean))
        object.__setattr__(self, "pixel_std", tuple(float(v) for v in self.pixel_std))
        if self.patch_size <= 0 or self.img_size % self.patch_size:
            raise WeightsError(f"img_size={self.img_size} must be a multiple of patch_size={self.patch_size}")
        if self.num_heads <= 0 or self.embed_dim % self.num_heads:
            raise WeightsError(f"num_heads={self.num_heads} must divide embed_dim={self.embed_dim}")
        if self.window_size < 0 or self.depth <= 0:
            raise WeightsError(f"expected depth > 0 and window_size >= 0, got {self.depth} and {self.window_size}")
        if any(not 0 <= i < self.depth for i in self.global_attn_indexes):
            raise WeightsError(f"global_attn_indexes {self.global_attn_indexes} must lie in 0..{self.depth - 1}")
        if len(self.pixel_mean) != 3 or len(self.pixel_std) != 3 or min(self.pixel_std) <= 0:
            raise WeightsError(f"pixel_mean/pixel_std: expected 3 values each (std > 0), got "
                               f"{self.pixel_mean} and {self.pixel_std}")

    @property
    def grid_size(self) -> int:
        """Side of the embedding grid: ``img_size // patch_size`` (64 for SAM)."""
        return self.img_size // self.patch_size

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.embed_dim // self.num_heads

    @property
    def mlp_dim(self) -> int:
        """Hidden width of each block's MLP (``int(embed_dim * mlp_ratio)``, as Meta's)."""
        return int(self.embed_dim * self.mlp_ratio)

    def block_window(self, index: int) -> int:
        """Window size of block ``index``: 0 for global attention."""
        return 0 if index in self.global_attn_indexes else self.window_size

    def block_attention_size(self, index: int) -> int:
        """Side of the square token grid block ``index`` attends over (window or whole grid)."""
        return self.block_window(index) or self.grid_size

    def metadata(self) -> dict[str, str]:
        """The safetensors metadata that records what shapes cannot always tell."""
        return {ENCODER_METADATA_KEY: json.dumps({f: getattr(self, f) for f in _METADATA_FIELDS})}

    @classmethod
    def from_shapes(
        cls, shapes: Mapping[str, tuple[int, ...]], metadata: Mapping[str, str] | None = None
    ) -> EncoderConfig:
        """Read a config from ``image_encoder.*`` shapes (key -> shape) and safetensors metadata.

        Sizes come from the shapes: patch size and embed dim from the patch embedding,
        image size from the position embedding's grid, depth from the blocks, heads from
        the relative-position tables' width (64 per head), window size and global blocks
        from their lengths (a global block's table spans the whole grid). Metadata written
        by `metadata` overrides heads, windows and pixel statistics.
        """
        p = IMAGE_ENCODER
        embed_dim, _, patch, _ = _shape(shapes, f"{p}patch_embed.proj.weight")
        grid = _shape(shapes, f"{p}pos_embed")[1]
        depth = count_indices(shapes, re.escape(p) + r"blocks\.(\d+)\.norm1\.weight")
        fields: dict = {
            "img_size": grid * patch,
            "patch_size": patch,
            "embed_dim": embed_dim,
            "depth": depth,
            "mlp_ratio": _shape(shapes, f"{p}blocks.0.mlp.lin1.weight")[0] / embed_dim,
            "out_chans": _shape(shapes, f"{p}neck.0.weight")[0],
            "use_rel_pos": f"{p}blocks.0.attn.rel_pos_h" in shapes,
        }
        if fields["use_rel_pos"]:
            fields["num_heads"] = embed_dim // _shape(shapes, f"{p}blocks.0.attn.rel_pos_h")[1]
            lengths = [_shape(shapes, f"{p}blocks.{i}.attn.rel_pos_h")[0] for i in range(depth)]
            windowed = [n for n in lengths if n != 2 * grid - 1]
            fields["window_size"] = (min(windowed) + 1) // 2 if windowed else 0
            spans_grid = [i for i, n in enumerate(lengths) if n == 2 * grid - 1]
            fields["global_attn_indexes"] = tuple(spans_grid) if windowed else ()
        else:
            fields |= {"num_heads": max(1, embed_dim // 64), "window_size": 0, "global_attn_indexes": ()}
        if metadata and ENCODER_METADATA_KEY in metadata:
            fields |= json.loads(metadata[ENCODER_METADATA_KEY])
        return cls(**fields)

    @classmethod
    def from_params(cls, params: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> EncoderConfig:
        """`from_shapes` of a parameter mapping (official key -> array)."""
        return cls.from_shapes({k: np.shape(v) for k, v in params.items() if k.startswith(IMAGE_ENCODER)}, metadata)


def _shape(shapes: Mapping[str, tuple[int, ...]], key: str) -> tuple[int, ...]:
    return required_shape(shapes, key, "image encoder")


#: The official checkpoints' image encoders (Meta's ``build_sam_vit_b/l/h``).
ENCODER_PRESETS: dict[str, EncoderConfig] = {
    "sam_vit_b": EncoderConfig(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    "sam_vit_l": EncoderConfig(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    "sam_vit_h": EncoderConfig(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}


def is_rel_pos_key(key: str) -> bool:
    """Whether ``key`` is a relative-position table, whose stored length may differ from
    the config's (it is interpolated at run time, as Meta's ``get_rel_pos`` does)."""
    return key.endswith((".attn.rel_pos_h", ".attn.rel_pos_w"))


def encoder_shapes(cfg: EncoderConfig) -> dict[str, tuple[int, ...]]:
    """Official key -> shape of every image encoder parameter, for ``cfg``.

    Relative-position tables get their natural length ``2 * size - 1``; a file may
    store another length (`is_rel_pos_key`), only their width is fixed.
    """
    p, d, g = IMAGE_ENCODER, cfg.embed_dim, cfg.grid_size
    shapes: dict[str, tuple[int, ...]] = {
        f"{p}patch_embed.proj.weight": (d, 3, cfg.patch_size, cfg.patch_size),
        f"{p}patch_embed.proj.bias": (d,),
        f"{p}pos_embed": (1, g, g, d),
    }
    for i in range(cfg.depth):
        b = f"{p}blocks.{i}"
        shapes |= norm_shapes(f"{b}.norm1", d)
        shapes |= linear_shapes(f"{b}.attn.qkv", 3 * d, d) | linear_shapes(f"{b}.attn.proj", d, d)
        if cfg.use_rel_pos:
            length = 2 * cfg.block_attention_size(i) - 1
            shapes |= {f"{b}.attn.rel_pos_h": (length, cfg.head_dim), f"{b}.attn.rel_pos_w": (length, cfg.head_dim)}
        shapes |= norm_shapes(f"{b}.norm2", d)
        shapes |= linear_shapes(f"{b}.mlp.lin1", cfg.mlp_dim, d) | linear_shapes(f"{b}.mlp.lin2", d, cfg.mlp_dim)
    c = cfg.out_chans
    shapes |= {f"{p}neck.0.weight": (c, d, 1, 1), f"{p}neck.2.weight": (c, c, 3, 3)}
    return shapes | norm_shapes(f"{p}neck.1", c) | norm_shapes(f"{p}neck.3", c)
