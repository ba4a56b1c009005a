"""Seeded random decoder and image encoder weights in the official layout, for tests, benchmarks and demos.

Scaled like a trained SAM decoder (unit-variance activations, non-trivial norms)
so that mask logits are of order 1-10, not tiny: comparisons mean something.
"""

from __future__ import annotations

import numpy as np

from samcore.config import ENCODER_PRESETS, PRESETS, DecoderConfig, EncoderConfig, encoder_shapes, expected_shapes

#: Learnt embedding tables (token / point embeddings): unit normal, as torch inits them.
_EMBEDDING_SUFFIXES = (
    "point_embeddings.0.weight",
    "point_embeddings.1.weight",
    "point_embeddings.2.weight",
    "point_embeddings.3.weight",
    "not_a_point_embed.weight",
    "no_mask_embed.weight",
    "iou_token.weight",
    "mask_tokens.weight",
    "positional_encoding_gaussian_matrix",
)

#: Image encoder position embeddings and their std: large enough to matter, small enough
#: that relative-position biases do not saturate the softmax.
_POSITION_SCALES = {"pos_embed": 0.5, "rel_pos_h": 0.2, "rel_pos_w": 0.2}


def _draw(rng: np.random.Generator, key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key.endswith(_EMBEDDING_SUFFIXES):
        return rng.standard_normal(shape)
    if (scale := _POSITION_SCALES.get(key.rsplit(".", 1)[-1])) is not None:
        return scale * rng.standard_normal(shape)
    if len(shape) == 1 and key.endswith(".weight"):  # LayerNorm scale
        return 1 + 0.2 * rng.standard_normal(shape)
    if len(shape) == 1:  # bias
        return 0.1 * rng.standard_normal(shape)
    # Linear [out, in], Conv2d [out, in, k, k], ConvTranspose2d [in, out, k, k].
    fan_in = shape[0] if "output_upscaling" in key else int(np.prod(shape[1:]))
    return rng.standard_normal(shape) / np.sqrt(fan_in)


def random_params(config: DecoderConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Every decoder parameter of ``config`` (official key -> float32 array), seeded."""
    rng = np.random.default_rng(seed)
    return {key: _draw(rng, key, shape).astype(np.float32) for key, shape in expected_shapes(config).items()}


def random_encoder_params(config: EncoderConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Every image encoder parameter of ``config`` (official key -> float32 array), seeded;
    norm scales are perturbed around 1 so that each one matters."""
    rng = np.random.default_rng(seed)
    return {key: _draw(rng, key, shape).astype(np.float32) for key, shape in encoder_shapes(config).items()}


#: Small SAMs for tests and demos: whole models (image encoder + decoder) that run in
#: milliseconds; "tiny" sees a 128-pixel frame as an 8 x 8 grid, in 4 x 4 windows.
SMALL_MODELS: dict[str, tuple[EncoderConfig, DecoderConfig]] = {
    "tiny": (
        EncoderConfig(img_size=128, patch_size=16, embed_dim=32, depth=2, num_heads=2, window_size=4,
                      global_attn_indexes=(1,), out_chans=32),
        DecoderConfig(embed_dim=32, mlp_dim=64, num_heads=2, iou_head_hidden_dim=32),
    ),
}


def model_configs(name: str) -> tuple[EncoderConfig | None, DecoderConfig]:
    """(image encoder config or None, decoder config) of an official preset or a small model."""
    if name in SMALL_MODELS:
        return SMALL_MODELS[name]
    return ENCODER_PRESETS.get(name), PRESETS[name]
