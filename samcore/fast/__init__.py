"""The fast formulation of the decoder: the spec's outputs, computed with less work.

Every step is exact algebra on the plain spec (``decode``); only float32 rounding
differs, and the conformance kit holds this to the spec's float32 tolerance.

1. Per image, not per prompt. Without mask input the image tokens, their
   positional encoding, block 0's image-side projections (token->image keys and
   values, image->token queries) and ``upscale_base`` depend only on the embedding:
   ``image_features`` computes them once and every prompt reuses them.
2. Reassociated attention. With ~5-20 prompt tokens, the 4096 image tokens are
   multiplied by small matrices instead of being projected:
   token->image ``(q_h Wk_h) (X + PE)^T`` and ``(A X) Wv_h^T``; image->token
   ``(k_h Wq_h) (X + PE)^T`` (scores token-major) and ``sum_h A_h (v_h Wo_h^T)``. Key
   biases add the same score to every image token of a softmax row and cancel; value
   and output biases pass through because attention rows sum to one.
3. Transposed convs with kernel = stride = 2 are one GEMM each, with output columns
   ordered so that no pixel shuffle is needed until the masks: LayerNorm2d and GELU
   act per pixel, so the upscaled features stay [pixels, channels] throughout, and
   after the first GEMM are made and consumed a cache-sized chunk of image tokens at
   a time. The first GEMM itself is rebuilt from ``upscale_base`` and one thin product
   (``upscale_input``): LayerNorm acts per token, so it commutes with the weight.
4. Only the returned masks are computed (their hypernetwork MLPs and mask products),
   and the final token->image attention only for the tokens read after it.
5. Filler tokens. A graph of static shape takes N prompt tokens; a ``token_mask`` [B, N]
   (1 a real token, 0 a filler) gives fillers a score of -1e30 wherever they are keys
   (token self-attention, image->token attention), so their softmax weight is exactly 0
   and the other tokens compute what the spec computes for the real tokens alone.

Shapes: B prompts, N tokens, HW image tokens, C channels, heads of width d.

Modules, one concept each: ``ops`` (LayerNorm with its statistics, GELU in place),
``attention``, ``upscaling``, ``features`` (the per-image work), ``transformer``, ``decode``;
and after the decoder, ``mask_resize``: ``postprocess_masks(...) > t`` without the frame
(each axis's two resizes as one banded matrix), behind ``samcore.binary_masks``.
"""

from samcore.fast.attention import FILLER_SCORE, ImageUpdate, filler_bias
from samcore.fast.decode import decode_fast
from samcore.fast.features import ImageFeatures, image_features
from samcore.fast.upscaling import (
    UpscalingGemms,
    mask_logits,
    pixels_to_masks,
    upscale_factors,
    upscale_input,
    upscale_weight_chain,
    upscaled_features,
    upscaled_logits,
    upscaled_mask_logits,
    upscaling_gemms,
)

__all__ = [
    "FILLER_SCORE",
    "ImageFeatures",
    "ImageUpdate",
    "UpscalingGemms",
    "decode_fast",
    "filler_bias",
    "image_features",
    "mask_logits",
    "pixels_to_masks",
    "upscale_factors",
    "upscale_input",
    "upscale_weight_chain",
    "upscaled_features",
    "upscaled_logits",
    "upscaled_mask_logits",
    "upscaling_gemms",
]
