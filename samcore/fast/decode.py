"""``decode_fast``: the spec's ``decode`` on one image's features, computing only the returned masks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from samcore.config import MASK_DECODER, DecoderConfig
from samcore.fast.attention import filler_bias
from samcore.fast.features import ImageFeatures, image_side
from samcore.fast.transformer import transformer
from samcore.fast.upscaling import upscaled_logits
from samcore.spec.mask_decoder import mlp, output_tokens
from samcore.spec.prompt_encoder import embed_mask, embed_points

D = MASK_DECODER


def decode_fast(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    features: ImageFeatures,
    point_coords: np.ndarray,
    point_labels: np.ndarray,
    mask_input: np.ndarray | None,
    multimask_output: bool | None,
    token_mask: np.ndarray | None = None,
    select: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``spec.decode`` for labelled points (``Prompts.labelled_points``: coords [B, N, 2],
    labels [B, N], N >= 0) and optional mask input [B, 1, 4h, 4w] on one image's
    ``features`` -> (logits [B, M, 4h, 4w], IoU [B, M]), M = T-1 masks (tokens 1..) with
    ``multimask_output``, 1 (token 0) without, all T with None.

    ``token_mask`` [B, N] float32 (1 a real token, 0 a filler; None: all real): the result
    is the spec's for the real tokens alone (fillers are never attended to).

    ``select``: (hypernetwork weights [B, M, C/8], IoU [B, M]) -> the chosen masks' (same
    shapes, M' masks), applied before the upscaled product so that only those are computed
    (a graph's single-mask choice: ``samcore.graph.builders.web_graphs``).
    """
    _, c, h, w = features.embedding.shape
    batch = point_coords.shape[0]
    sparse = embed_points(params, point_coords, point_labels, config.frame_size((h, w)))
    tokens = np.concatenate([output_tokens(params, batch), sparse], axis=1)
    key_bias = None
    if token_mask is not None:  # the output tokens are always real
        key_bias = np.concatenate([np.zeros((1, tokens.shape[1] - sparse.shape[1]), np.float32) * token_mask[:, :1],
                                   filler_bias(token_mask)], axis=1)
    if mask_input is None:
        image, block0 = features.tokens, (features.t2i_keys, features.t2i_values, features.i2t_queries)
        base = features.upscale_base
    else:  # the dense prompt differs per prompt: so does everything on the image side
        image = (features.embedding + embed_mask(params, mask_input)).reshape(batch, c, h * w).transpose(0, 2, 1)
        *block0, base = image_side(params, config, image, features.pe)
    num_masks = config.num_mask_tokens
    chosen = range(num_masks) if multimask_output is None else range(1, num_masks) if multimask_output else range(1)
    wanted = [0, *(1 + i for i in chosen)]  # the IoU token and the chosen masks' tokens
    hs, _, updates = transformer(params, features, image, block0, tokens, config, key_bias, wanted)
    hyper = np.stack([mlp(params, f"{D}output_hypernetworks_mlps.{i}", hs[:, 1 + k]) for k, i in enumerate(chosen)],
                     axis=1)
    iou = mlp(params, f"{D}iou_prediction_head", hs[:, 0])[:, list(chosen)]
    if select is not None:
        hyper, iou = select(hyper, iou)
    return upscaled_logits(params, config, base, updates, hyper, (h, w)), iou
