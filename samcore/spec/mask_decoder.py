"""SAM's mask decoder: output tokens through the transformer, then masks and IoU.

Mirrors ``segment_anything/modeling/mask_decoder.py`` (``MaskDecoder.predict_masks``
and ``forward``). T = number of mask tokens (4 in every official model).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from samcore.config import MASK_DECODER, TRANSFORMER
from samcore.spec.ops import conv_transpose2d, gelu, graph_hook, layer_norm_2d, linear, relu
from samcore.spec.transformer import two_way_transformer

D = MASK_DECODER


def mlp(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    """SAM's MLP: ``{key}.layers.{i}`` linears with ReLU between them; x [..., in] -> [..., out]."""
    i = 0
    while f"{key}.layers.{i + 1}.weight" in params:
        x = relu(linear(x, params[f"{key}.layers.{i}.weight"], params[f"{key}.layers.{i}.bias"]))
        i += 1
    return linear(x, params[f"{key}.layers.{i}.weight"], params[f"{key}.layers.{i}.bias"])


@graph_hook  # a graph broadcasts to a batch known only at run time
def output_tokens(params: Mapping[str, np.ndarray], batch: int) -> np.ndarray:
    """The IoU token then the T mask tokens, per prompt -> [B, 1 + T, C]."""
    tokens = np.concatenate([params[f"{D}iou_token.weight"], params[f"{D}mask_tokens.weight"]], axis=0)
    return np.broadcast_to(tokens, (batch, *tokens.shape))


def upscale(params: Mapping[str, np.ndarray], image_tokens: np.ndarray) -> np.ndarray:
    """Image features [B, C, h, w] -> [B, C/8, 4h, 4w].

    conv-transpose 2x2/2 -> LayerNorm2d -> GELU -> conv-transpose 2x2/2 -> GELU.
    """
    k = f"{D}output_upscaling"
    x = conv_transpose2d(image_tokens, params[f"{k}.0.weight"], params[f"{k}.0.bias"])
    x = gelu(layer_norm_2d(x, params[f"{k}.1.weight"], params[f"{k}.1.bias"]))
    return gelu(conv_transpose2d(x, params[f"{k}.3.weight"], params[f"{k}.3.bias"]))


def hypernetwork_weights(params: Mapping[str, np.ndarray], mask_tokens: np.ndarray) -> np.ndarray:
    """Per-mask weights over upscaled channels: mask tokens [B, T, C] -> [B, T, C/8]."""
    return np.stack(
        [mlp(params, f"{D}output_hypernetworks_mlps.{i}", mask_tokens[:, i]) for i in range(mask_tokens.shape[1])],
        axis=1,
    )


def predict_masks(
    params: Mapping[str, np.ndarray],
    image_embedding: np.ndarray,
    image_pe: np.ndarray,
    sparse: np.ndarray,
    dense: np.ndarray,
    depth: int,
    num_heads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """All T masks for B prompts on one image.

    image_embedding [1, C, h, w], image_pe [C, h, w], sparse [B, N, C], dense
    [B, C, h, w] -> (mask logits [B, T, 4h, 4w], IoU predictions [B, T]).
    """
    batch = sparse.shape[0]
    num_masks = params[f"{D}mask_tokens.weight"].shape[0]
    tokens = np.concatenate([output_tokens(params, batch), sparse], axis=1)
    src = image_embedding + dense  # [B, C, h, w]
    hs, image_tokens = two_way_transformer(params, TRANSFORMER, src, image_pe, tokens, depth, num_heads)

    b, c, h, w = src.shape
    image_tokens = image_tokens.transpose(0, 2, 1).reshape(b, c, h, w)
    upscaled = upscale(params, image_tokens)  # [B, C/8, 4h, 4w]
    weights = hypernetwork_weights(params, hs[:, 1 : 1 + num_masks])  # [B, T, C/8]
    _, c8, h4, w4 = upscaled.shape
    masks = (weights @ upscaled.reshape(b, c8, h4 * w4)).reshape(b, num_masks, h4, w4)
    iou = mlp(params, f"{D}iou_prediction_head", hs[:, 0])
    return masks, iou


def select_masks(masks: np.ndarray, iou: np.ndarray, multimask_output: bool) -> tuple[np.ndarray, np.ndarray]:
    """SAM's output choice: tokens 1.. for multimask output, token 0 alone otherwise.

    masks [B, T, H, W], iou [B, T] -> [B, T-1 or 1, H, W], [B, T-1 or 1].
    """
    chosen = slice(1, None) if multimask_output else slice(0, 1)
    return masks[:, chosen], iou[:, chosen]
