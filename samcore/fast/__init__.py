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
4. Only the returned masks are computed (their hypernetwork MLPs and mask products).
5. Filler tokens. A graph of static shape takes N prompt tokens; a ``token_mask`` [B, N]
   (1 a real token, 0 a filler) gives fillers a score of -1e30 wherever they are keys
   (token self-attention, image->token attention), so their softmax weight is exactly 0
   and the other tokens compute what the spec computes for the real tokens alone.

Shapes: B prompts, N tokens, HW image tokens, C channels, heads of width d.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from samcore.config import MASK_DECODER, TRANSFORMER, DecoderConfig
from samcore.spec.mask_decoder import mlp, output_tokens
from samcore.spec.ops import gelu, graph_hook, layer_norm, layer_norm_with_stats, linear, softmax
from samcore.spec.prompt_encoder import dense_positional_encoding, embed_mask, embed_points, no_mask_embedding
from samcore.spec.transformer import attention, merge_heads, mlp_block, split_heads

T, D = TRANSFORMER, MASK_DECODER


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


def _norm(params: Mapping[str, np.ndarray], key: str, x: np.ndarray) -> np.ndarray:
    return layer_norm(x, params[f"{key}.weight"], params[f"{key}.bias"], eps=1e-5)


def _image_side(params: Mapping[str, np.ndarray], config: DecoderConfig, tokens: np.ndarray, pe: np.ndarray):
    """What depends on the image tokens [B|1, HW, C] alone: block 0's image-side projections
    (three [B|1, heads, HW, d]) and ``upscale_input``'s base tokens @ G_0 [B|1, HW, 4 C/4]."""
    t2i, i2t = f"{T}layers.0.cross_attn_token_to_image", f"{T}layers.0.cross_attn_image_to_token"
    with_pe = tokens + pe

    def project(key: str, x: np.ndarray) -> np.ndarray:
        return split_heads(linear(x, params[f"{key}.weight"], params[f"{key}.bias"]), config.num_heads)

    base = tokens @ upscale_weight_chain(params, config, upscaling_gemms(params).w1)[0]
    return project(f"{t2i}.k_proj", with_pe), project(f"{t2i}.v_proj", tokens), project(f"{i2t}.q_proj", with_pe), base


def image_features(
    params: Mapping[str, np.ndarray], config: DecoderConfig, image_embedding: np.ndarray
) -> ImageFeatures:
    """The per-image work for an embedding [1, C, h, w] (prompts without mask input)."""
    _, c, h, w = image_embedding.shape
    tokens = (image_embedding + no_mask_embedding(params, 1, (h, w))).reshape(1, c, h * w).transpose(0, 2, 1)
    tokens = tokens.copy()  # C order, as every matmul wants (a method: graph tracers take it as the identity)
    pe = np.ascontiguousarray(dense_positional_encoding(params, (h, w)).reshape(c, h * w).T)
    return ImageFeatures(tokens, pe, *_image_side(params, config, tokens, pe), image_embedding)


#: Added to a filler token's attention scores: exp(-1e30 - max) is exactly 0 in float32.
FILLER_SCORE = np.float32(-1e30)


def filler_bias(token_mask: np.ndarray) -> np.ndarray:
    """Score bias of each token as an attention key: token_mask [B, N] (1 real, 0 filler)
    -> [B, N], 0 for real tokens and ``FILLER_SCORE`` for fillers."""
    return (np.float32(1) - token_mask) * FILLER_SCORE


def _self_attention(params, key, q, v, heads, key_bias):
    """Token self-attention (queries = keys = ``q`` [B, N, C], values ``v``) with a score bias per
    key token [B, N] (None: none) -> [B, N, C]; ``spec.transformer.attention`` otherwise."""
    if key_bias is None:
        return attention(params, key, q, q, v, heads)
    qh = split_heads(linear(q, params[f"{key}.q_proj.weight"], params[f"{key}.q_proj.bias"]), heads)
    kh = split_heads(linear(q, params[f"{key}.k_proj.weight"], params[f"{key}.k_proj.bias"]), heads)
    vh = split_heads(linear(v, params[f"{key}.v_proj.weight"], params[f"{key}.v_proj.bias"]), heads)
    scores = (qh @ kh.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(qh.shape[-1]))
    scores = scores + key_bias[:, None, None, :]
    return linear(merge_heads(softmax(scores) @ vh), params[f"{key}.out_proj.weight"], params[f"{key}.out_proj.bias"])


def _attend_cached_image(params, key, q, image_keys, image_values, heads):
    """Tokens [B, N, C] attend to projected image keys/values [1|B, heads, HW, d] -> [B, N, C]."""
    qh = split_heads(linear(q, params[f"{key}.q_proj.weight"], params[f"{key}.q_proj.bias"]), heads)
    scores = (qh / np.float32(np.sqrt(qh.shape[-1]))) @ image_keys.transpose(0, 1, 3, 2)
    out = merge_heads(softmax(scores) @ image_values)
    return linear(out, params[f"{key}.out_proj.weight"], params[f"{key}.out_proj.bias"])


def _attend_image(params, key, q, image, image_pe, heads):
    """Tokens [B, N, C] attend to image tokens [B, HW, C] (keys from ``image_pe`` = image + pe),
    reassociated."""
    b, n, _ = q.shape
    wk, wv = params[f"{key}.k_proj.weight"], params[f"{key}.v_proj.weight"]  # [C', C]
    d = wk.shape[0] // heads
    qh = split_heads(linear(q, params[f"{key}.q_proj.weight"], params[f"{key}.q_proj.bias"]), heads)
    g = ((qh / np.float32(np.sqrt(d))) @ wk.reshape(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads*N, C]
    scores = g @ image_pe.transpose(0, 2, 1)  # [B, heads*N, HW]
    r = (softmax(scores) @ image).reshape(b, heads, n, -1)  # [B, heads, N, C]
    out = r @ wv.reshape(heads, d, -1).transpose(0, 2, 1) + params[f"{key}.v_proj.bias"].reshape(heads, 1, d)
    return linear(merge_heads(out), params[f"{key}.out_proj.weight"], params[f"{key}.out_proj.bias"])


@dataclasses.dataclass(frozen=True)
class ImageUpdate:
    """One layer's image-side step, image' = LayerNorm(image + weights^T u): the image->token
    attention weights [B, R, HW] (token-major, R = heads N), the factor u [B, R, C], and
    the norm's mean and 1/std [B, HW, 1]."""

    weights: np.ndarray
    u: np.ndarray
    mean: np.ndarray
    inv_std: np.ndarray


def _image_attention(params, key, scores, v_tokens, heads, key_bias):
    """Image tokens attend to tokens, given the scaled scores [B, heads, N, HW] (token-major:
    each softmax runs down a column) and a score bias per token [B, N] (None: none)
    -> (weights [B, heads*N, HW], u [B, heads*N, C]), the output being weights^T u [B, HW, C].

    ``sum_h A_h (v_h Wo_h^T)``: one [HW, heads*N] x [heads*N, C] product. Softmax rows sum
    to one per head, so the output bias enters as ``bias / heads`` on every row of u.
    """
    b, _, n, hw = scores.shape
    wo = params[f"{key}.out_proj.weight"]  # [C, C']
    d = wo.shape[1] // heads
    vh = split_heads(linear(v_tokens, params[f"{key}.v_proj.weight"], params[f"{key}.v_proj.bias"]), heads)
    u = (vh @ wo.T.reshape(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads*N, C]
    u = u + params[f"{key}.out_proj.bias"] / np.float32(heads)
    if key_bias is not None:
        scores = scores + key_bias[:, None, :, None]
    return softmax(scores, axis=-2).reshape(b, heads * n, hw), u


def _token_keys(params, key, k_tokens, heads):
    """Token keys [B, N, C] -> [B, heads, N, d], scaled by 1/sqrt(d) for the scores."""
    kh = split_heads(linear(k_tokens, params[f"{key}.k_proj.weight"], params[f"{key}.k_proj.bias"]), heads)
    return kh / np.float32(np.sqrt(kh.shape[-1]))


def _image_attention_cached(params, key, image_queries, k_tokens, v_tokens, heads, key_bias):
    """Image (projected queries [1|B, heads, HW, d]) attends to tokens [B, N, C] -> ``_image_attention``'s factors."""
    scores = _token_keys(params, key, k_tokens, heads) @ image_queries.transpose(0, 1, 3, 2)  # [B, heads, N, HW]
    return _image_attention(params, key, scores, v_tokens, heads, key_bias)


def _image_attention_reassociated(params, key, image_pe, k_tokens, v_tokens, heads, key_bias):
    """Image tokens (queries from ``image_pe`` = image + pe [B, HW, C]) attend to tokens [B, N, C]
    -> ``_image_attention``'s factors."""
    b, n, _ = k_tokens.shape
    wq = params[f"{key}.q_proj.weight"]  # [C', C]
    d = wq.shape[0] // heads
    kh = _token_keys(params, key, k_tokens, heads)  # [B, heads, N, d]
    p = (kh @ wq.reshape(heads, d, -1)).reshape(b, heads * n, -1)  # [B, heads*N, C]
    bias = kh @ params[f"{key}.q_proj.bias"].reshape(heads, d, 1)  # [B, heads, N, 1]
    scores = (p @ image_pe.transpose(0, 2, 1)).reshape(b, heads, n, -1) + bias  # [B, heads, N, HW]
    return _image_attention(params, key, scores, v_tokens, heads, key_bias)


def _transformer(params, features: ImageFeatures, image, block0, point_embedding, config, key_bias):
    """The two-way transformer on image tokens [1|B, HW, C] with block 0's image-side
    projections ``block0`` and a score bias per token as a key [B, N] (None: none)
    -> (tokens [B, N, C], image tokens [B, HW, C], each layer's ``ImageUpdate``)."""
    heads, pe = config.num_heads, features.pe
    queries, qpe = point_embedding, point_embedding
    updates = []
    for i in range(config.depth):
        layer = f"{T}layers.{i}"
        if i == 0:
            queries = _self_attention(params, f"{layer}.self_attn", queries, queries, heads, key_bias)
        else:
            queries = queries + _self_attention(params, f"{layer}.self_attn", queries + qpe, queries, heads, key_bias)
        queries = _norm(params, f"{layer}.norm1", queries)
        t2i, i2t = f"{layer}.cross_attn_token_to_image", f"{layer}.cross_attn_image_to_token"
        if i == 0:
            out = _attend_cached_image(params, t2i, queries + qpe, block0[0], block0[1], heads)
        else:
            image_pe = image + pe
            out = _attend_image(params, t2i, queries + qpe, image, image_pe, heads)
        queries = _norm(params, f"{layer}.norm2", queries + out)
        queries = _norm(params, f"{layer}.norm3", queries + mlp_block(params, f"{layer}.mlp", queries))
        if i == 0:
            weights, u = _image_attention_cached(params, i2t, block0[2], queries + qpe, queries, heads, key_bias)
        else:
            weights, u = _image_attention_reassociated(params, i2t, image_pe, queries + qpe, queries, heads, key_bias)
        norm = f"{layer}.norm4"
        image, mean, inv_std = layer_norm_with_stats(
            image + weights.transpose(0, 2, 1) @ u, params[f"{norm}.weight"], params[f"{norm}.bias"], eps=1e-5
        )
        updates.append(ImageUpdate(weights, u, mean, inv_std))
    out = _attend_image(params, f"{T}final_attn_token_to_image", queries + qpe, image, image + pe, heads)
    return _norm(params, f"{T}norm_final_attn", queries + out), image, updates


#: Image tokens upscaled per step: the step's features (~0.5 MB) stay in a core's L2
#: cache through LayerNorm2d, the two GELUs and the second GEMM.
UPSCALE_CHUNK = 128


@dataclasses.dataclass(frozen=True)
class UpscalingGemms:
    """The output upscaling as GEMM weights: the two transposed convs as [C, 4 C/4] and
    [C/4, 4 C/8] with columns ordered (di, dj, channel), their biases tiled to match, and
    the LayerNorm2d between them (``upscaling_gemms``)."""

    w1: np.ndarray
    b1: np.ndarray
    norm_weight: np.ndarray
    norm_bias: np.ndarray
    w2: np.ndarray
    b2: np.ndarray


def upscaling_gemms(params: Mapping[str, np.ndarray]) -> UpscalingGemms:
    """``output_upscaling``'s weights rearranged for ``upscaled_features`` (once per call, not per chunk)."""
    k = f"{D}output_upscaling"
    w1, w2 = params[f"{k}.0.weight"], params[f"{k}.3.weight"]  # [C, C/4, 2, 2], [C/4, C/8, 2, 2]
    return UpscalingGemms(
        w1.transpose(0, 2, 3, 1).reshape(w1.shape[0], -1), np.tile(params[f"{k}.0.bias"], 4),
        params[f"{k}.1.weight"], params[f"{k}.1.bias"],
        w2.transpose(0, 2, 3, 1).reshape(w2.shape[0], -1), np.tile(params[f"{k}.3.bias"], 4),
    )


def upscale_weight_chain(params: Mapping[str, np.ndarray], config: DecoderConfig, w1: np.ndarray) -> list[np.ndarray]:
    """[G_0, ..., G_depth]: the first upscaling GEMM's weight w1 [C, 4 C/4] (``UpscalingGemms.w1``)
    as seen from each layer's input image tokens. G_depth = w1, and G_i = diag(gamma_i) G_{i+1},
    gamma_i the gain of layer i's norm4 (which makes layer i + 1's input)."""
    chain = [w1]
    for i in reversed(range(config.depth)):
        chain.insert(0, params[f"{T}layers.{i}.norm4.weight"][:, None] * chain[0])
    return chain


def upscale_input(
    params: Mapping[str, np.ndarray], config: DecoderConfig, base: np.ndarray, updates: list[ImageUpdate]
) -> np.ndarray:
    """The first upscaling GEMM's output, final image tokens @ W1 + b1 [B, HW, 4 C/4],
    without that [HW, C] x [C, 4 C/4] product per prompt.

    Each layer's image' = LayerNorm(image + A^T u) = r (image + A^T u - mean) * gamma + beta
    (r = 1/std per token), so with ``upscale_weight_chain``'s G_i,
    image' @ G_{i+1} = r (image @ G_i + A^T (u G_i) - mean colsum(G_i)) + beta G_{i+1}.
    Unrolled from the per-image ``base`` = tokens @ G_0, the result is s * base + L^T R:
    s the product of every layer's r, and one thin product whose rows are, per layer, the
    attention weights and the mean (times the later r's) and the constant beta G_{i+1}
    (with b1 on the last layer's).
    """
    gemms = upscaling_gemms(params)
    chain = upscale_weight_chain(params, config, gemms.w1)
    b, hw, _ = updates[-1].mean.shape
    k = gemms.w1.shape[1]
    scale = np.ones_like(updates[-1].mean)  # [B, HW, 1] the later layers' r, multiplied up
    ones = scale[:, :1]  # [B, 1, 1], to give constant rows the batch axis
    lefts, rights = [], []  # [B, rows, HW], [B, rows, K]
    for i in reversed(range(config.depth)):
        step = updates[i]
        constant = params[f"{T}layers.{i}.norm4.bias"] @ chain[i + 1]
        if i == config.depth - 1:
            constant = constant + gemms.b1
        lefts.append(scale.reshape(b, 1, hw))
        rights.append(ones * constant.reshape(1, 1, k))
        scale = scale * step.inv_std
        lefts += [step.weights * scale.reshape(b, 1, hw), (step.mean * scale).reshape(b, 1, hw)]
        rights += [step.u @ chain[i], ones * -chain[i].sum(axis=0).reshape(1, 1, k)]
    left, right = np.concatenate(lefts, axis=1), np.concatenate(rights, axis=1)
    return scale * base + left.transpose(0, 2, 1) @ right


def upscaled_features(gemms: UpscalingGemms, x: np.ndarray) -> np.ndarray:
    """The first transposed conv's output [B, n, 4 C/4] (``upscale_input``; columns ordered
    (di, dj, channel)) -> upscaled features [B, 16 n, C/8] of the 16 pixels
    (4i + 2di + ei, 4j + 2dj + ej) of each token (i, j), in the order (token, di, dj, ei, ej):
    LayerNorm2d and GELU per pixel, the second conv-transpose GEMM, GELU."""
    b, n, _ = x.shape
    c4, c8 = gemms.w2.shape[0], gemms.w2.shape[1] // 4
    x = gelu(layer_norm(x.reshape(b * 4 * n, c4), gemms.norm_weight, gemms.norm_bias, eps=1e-6))
    return gelu((x @ gemms.w2 + gemms.b2).reshape(b, 16 * n, c8))  # 2-d: runtimes fuse the bias into the GEMM


def upscaled_mask_logits(gemms: UpscalingGemms, x: np.ndarray, hyper: np.ndarray) -> np.ndarray:
    """The first transposed conv's output [B, n, 4 C/4] and hypernetwork weights [B, M, C/8]
    -> logits [B, n, 16, M] of the 16 pixels of each token (``upscaled_features``' order):
    the features' product with the hypernetwork weights."""
    b, n, _ = x.shape
    return (upscaled_features(gemms, x) @ hyper.transpose(0, 2, 1)).reshape(b, n, 16, hyper.shape[1])


def pixels_to_masks(logits: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """``upscaled_mask_logits`` output [B, hw, 16, M] -> masks [B, M, 4h, 4w]."""
    b, _, _, m = logits.shape
    h, w = grid
    masks = logits.reshape(b, h, w, 2, 2, 2, 2, m).transpose(0, 7, 1, 3, 5, 2, 4, 6)
    return masks.reshape(b, m, 4 * h, 4 * w)


@graph_hook  # a graph computes all tokens at once: its emitter skips the chunking
def mask_logits(params, x: np.ndarray, hyper: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The first transposed conv's output [B, hw, 4 C/4] (``upscale_input``) and hypernetwork
    weights [B, M, C/8] -> mask logits [B, M, 4h, 4w], a cache-sized chunk of tokens of one
    prompt at a time."""
    b, hw, _ = x.shape
    logits = np.empty((b, hw, 16, hyper.shape[1]), np.float32)
    gemms = upscaling_gemms(params)
    for p in range(b):
        for start in range(0, hw, UPSCALE_CHUNK):
            part = slice(start, start + UPSCALE_CHUNK)
            logits[p, part] = upscaled_mask_logits(gemms, x[p : p + 1, part], hyper[p : p + 1])[0]
    return pixels_to_masks(logits, grid)


def decode_fast(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    features: ImageFeatures,
    point_coords: np.ndarray,
    point_labels: np.ndarray,
    mask_input: np.ndarray | None,
    multimask_output: bool | None,
    token_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``spec.decode`` for labelled points (``Prompts.labelled_points``: coords [B, N, 2],
    labels [B, N], N >= 0) and optional mask input [B, 1, 4h, 4w] on one image's
    ``features`` -> (logits [B, M, 4h, 4w], IoU [B, M]), M = T-1 masks (tokens 1..) with
    ``multimask_output``, 1 (token 0) without, all T with None.

    ``token_mask`` [B, N] float32 (1 a real token, 0 a filler; None: all real): the result
    is the spec's for the real tokens alone (fillers are never attended to).
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
        *block0, base = _image_side(params, config, image, features.pe)
    hs, _, updates = _transformer(params, features, image, block0, tokens, config, key_bias)

    num_masks = config.num_mask_tokens
    chosen = range(num_masks) if multimask_output is None else range(1, num_masks) if multimask_output else range(1)
    hyper = np.stack([mlp(params, f"{D}output_hypernetworks_mlps.{i}", hs[:, 1 + i]) for i in chosen], axis=1)
    logits = mask_logits(params, upscale_input(params, config, base, updates), hyper, (h, w))
    iou = mlp(params, f"{D}iou_prediction_head", hs[:, 0])[:, list(chosen)]
    return logits, iou
