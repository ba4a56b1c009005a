"""The per-image work: what the decoder needs of one image embedding, computed once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from samcore.config import TRANSFORMER, DecoderConfig
from samcore.fast.upscaling import upscale_weight_chain, upscaling_gemms
from samcore.spec.ops import linear
from samcore.spec.prompt_encoder import dense_positional_encoding, no_mask_embedding
from samcore.spec.transformer import split_heads

T = TRANSFORMER


@dataclasses.dataclass(frozen=True)
class ImageFeatures:
    """What the decoder needs of one image embedding, computed once (``image_features``)."""

    tokens: np.ndarray  # [1, HW, C] image tokens + the no-mask dense embedding
    pe: np.ndarray  # [HW, C] dense positional encoding
    t2i_keys: np.ndarray  # [1, heads, HW, d] block 0, token->image attention keys
    t2i_values: np.ndarray  # [1, heads, HW, d] block 0, token->image attention values
    i2t_queries: np.ndarray  # [1, heads, HW, d] block 0, image->token attention queries
    upscale_base: np.ndarray  # [1, HW, 4 C/4] tokens @ G_0, the per-image part of ``upscale_input``
    embedding: np.ndarray  # [1, C, h, w] the embedding itself (for prompts with mask input)


def image_side(
    params: Mapping[str, np.ndarray], config: DecoderConfig, tokens: np.ndarray, pe: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What depends on the image tokens [B|1, HW, C] alone: block 0's image-side projections
    (three [B|1, heads, HW, d]) and ``upscale_input``'s base tokens @ G_0 [B|1, HW, 4 C/4]."""
    t2i, i2t = f"{T}layers.0.cross_attn_token_to_image", f"{T}layers.0.cross_attn_image_to_token"
    with_pe = tokens + pe

    def project(key: str, x: np.ndarray) -> np.ndarray:
        return split_heads(linear(x, params[f"{key}.weight"], params[f"{key}.bias"]), config.num_heads)

    base = tokens @ upscale_weight_chain(params, config, upscaling_gemms(params).w1)[0]
    return project(f"{t2i}.k_proj", with_pe), project(f"{t2i}.v_proj", tokens), project(f"{i2t}.q_proj", with_pe), base


def image_features(
    params: Mapping[str, np.ndarray], config: DecoderConfig, image_embedding: np.ndarray, pe: np.ndarray | None = None
) -> ImageFeatures:
    """The per-image work for an embedding [1, C, h, w] (prompts without mask input).

    ``pe`` [HW, C]: the dense positional encoding (None: computed here; a graph that
    computes it from the grid's cell centres passes its own: ``samcore.graph.builders.web_graphs``).
    """
    _, c, h, w = image_embedding.shape
    no_mask = no_mask_embedding(params, 1, (1, 1))  # [1, C, 1, 1], broadcast: no [C, h, w] constant in a graph
    tokens = (image_embedding + no_mask).reshape(1, c, h * w).transpose(0, 2, 1)
    tokens = tokens.copy()  # C order, as every matmul wants (a method: graph tracers take it as the identity)
    if pe is None:
        pe = np.ascontiguousarray(dense_positional_encoding(params, (h, w)).reshape(c, h * w).T)
    return ImageFeatures(tokens, pe, *image_side(params, config, tokens, pe), image_embedding)
