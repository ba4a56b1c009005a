"""The graphs, traced from the spec's functions.

``samcore``: gathered points -> every token's low-res logits and IoU (the host
selects masks), one graph with mask input and one without. ``meta``: the I/O of
Meta's ``SamOnnxModel``, the same traced decoder plus graph-level post-processing
that follows ``orig_im_size`` at run time. Both trace the plain spec (``samcore.spec.decode``).

``fast``: the fast formulation (``samcore.fast``), what the backend runs. A
per-image graph traces ``image_features`` (run once per image), a per-prompt graph
traces ``decode_fast`` on its outputs. ``decode_fast`` computes only the returned
masks, so the per-prompt graph is traced once per ``multimask_output`` (M = T-1 or 1
masks): one graph computing all T masks for the host to select from would cost a
mask more per prompt (a hypernetwork MLP and its share of the upscaled product,
~1% at ViT-B size), and the selection would be outside the traced spec; two small
files traced from one function cost nothing at run time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from samcore.config import PROMPT_ENCODER, DecoderConfig
from samcore.fast import ImageFeatures, decode_fast, image_features
from samcore.graph.emitters import ONNXRUNTIME, PORTABLE
from samcore.graph.tracer import Emitters, Graph, Traced
from samcore.spec.mask_decoder import predict_masks
from samcore.spec.prompt_encoder import (
    cell_centres,
    dense_positional_encoding,
    embed_mask,
    embed_points,
    no_mask_embedding,
    positional_encoding,
)

F32 = np.float32


def samcore_graph(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    with_mask_input: bool,
    emitters: Emitters = ONNXRUNTIME,
) -> Graph:
    """``decode_all_tokens`` after ``gather_point_prompts``, as a graph.

    Inputs: image_embedding [1, C, h, w] float32, point_coords [B, N, 2] float32,
    point_labels [B, N] int64, and with ``with_mask_input`` mask_input [B, 1, 4h, 4w].
    Outputs: low_res_logits [B, T, 4h, 4w], iou_predictions [B, T].
    """
    g = Graph(opset, emitters)
    h, w = grid
    embedding = g.input("image_embedding", F32, (1, config.embed_dim, h, w))
    coords = g.input("point_coords", F32, ("B", "N", 2))
    labels = g.input("point_labels", np.int64, ("B", "N"))
    sparse = embed_points(params, coords, labels, config.frame_size(grid))
    if with_mask_input:
        dense = embed_mask(params, g.input("mask_input", F32, ("B", 1, 4 * h, 4 * w)))
    else:
        dense = no_mask_embedding(params, sparse.shape[0], grid)
    image_pe = dense_positional_encoding(params, grid)  # a constant of the graph
    masks, iou = predict_masks(params, embedding, image_pe, sparse, dense, config.depth, config.num_heads)
    g.output(masks, "low_res_logits")
    g.output(iou, "iou_predictions")
    return g


def _select_single_mask(masks: Traced, iou: Traced, coords: Traced) -> tuple[Traced, Traced]:
    """``SamOnnxModel.select_masks``: token 0 when N > 2.5 points, else the best of tokens 1.. by IoU.
    masks [B, T, ...] (the masks or their hypernetwork weights), iou [B, T] -> [B, 1, ...], [B, 1]."""
    g = masks.graph
    num_tokens = iou._shape[1]
    num_points = Traced(g, g.dim_value(coords.shape[1]), np.int64, (1,)).astype(F32)
    reweight = np.array([[1000] + [0] * (num_tokens - 1)], F32)
    score = iou + (num_points - F32(2.5)) * reweight
    best = score._op("ArgMax", [score], np.int64, (iou._shape[0], 1), axis=1, keepdims=1)
    b, _, *rest = masks.shape
    index = best.reshape(b, 1, *[1] * len(rest))
    index = index._op("Expand", [index, g.shape_value((b, 1, *rest))], shape=(b, 1, *rest))
    return (
        masks._op("GatherElements", [masks, index], shape=(b, 1, *rest), axis=1),
        iou._op("GatherElements", [iou, best], shape=(b, 1), axis=1),
    )


def _resize(x: Traced, sizes: str, shape: tuple) -> Traced:
    """Bilinear resize of the last two axes to run-time ``sizes`` [4], as
    ``F.interpolate(mode="bilinear", align_corners=False)`` exports."""
    return x._op(
        "Resize", [x, "", "", sizes], shape=shape, mode="linear", coordinate_transformation_mode="half_pixel"
    )


def _postprocess(masks: Traced, orig_im_size: Traced, frame: tuple[int, int]) -> Traced:
    """``samcore.postprocess.postprocess_masks`` with the original size read at run time:
    upscale to the frame, crop to the resized image, resize to ``orig_im_size`` (H, W)."""
    g = masks.graph
    b, m, _, _ = masks.shape
    framed = _resize(masks, g.shape_value((b, m, *frame)), (b, m, *frame))
    # SamOnnxModel.resize_longest_image_size, in float32.
    scale = F32(max(frame)) / orig_im_size.max(keepdims=True)
    resized = np.floor(scale * orig_im_size + F32(0.5)).astype(np.int64)  # [2]
    zeros, axes = g.const([0, 0], np.int64), g.const([2, 3], np.int64)
    cropped = framed._op("Slice", [framed, zeros, resized, axes], shape=(b, m, "crop_h", "crop_w"))
    size = orig_im_size.astype(np.int64)
    sizes = g.node("Concat", [g.dim_value(b), g.dim_value(m), size.name], axis=0)[0]
    return _resize(cropped, sizes, (b, m, "H", "W"))


def meta_graph(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    return_single_mask: bool,
    emitters: Emitters = ONNXRUNTIME,
) -> Graph:
    """Meta's ``SamOnnxModel`` I/O, with prompts batched (B) and the crop and resize following
    ``orig_im_size`` at run time.

    Inputs: image_embeddings [1, C, h, w], point_coords [B, N, 2], point_labels [B, N]
    (float), mask_input [1, 1, 4h, 4w], has_mask_input [1], orig_im_size [2] (H, W).
    Outputs: masks [B, M, H, W] (logits), iou_predictions [B, M], low_res_masks
    [B, M, 4h, 4w]; M = 1 with ``return_single_mask`` else T.
    """
    g = Graph(opset, emitters)
    h, w = grid
    frame = config.frame_size(grid)
    embedding = g.input("image_embeddings", F32, (1, config.embed_dim, h, w))
    coords = g.input("point_coords", F32, ("B", "N", 2))
    labels = g.input("point_labels", F32, ("B", "N"))
    mask_input = g.input("mask_input", F32, (1, 1, 4 * h, 4 * w))
    has_mask = g.input("has_mask_input", F32, (1,))
    orig_im_size = g.input("orig_im_size", F32, (2,))

    sparse = embed_points(params, coords, labels, frame)
    no_mask = params[f"{PROMPT_ENCODER}no_mask_embed.weight"].reshape(1, -1, 1, 1)
    dense = has_mask * embed_mask(params, mask_input) + (1 - has_mask) * no_mask  # [1, C, h, w]
    dense = np.broadcast_to(dense, (sparse.shape[0], *dense.shape[1:]))
    image_pe = dense_positional_encoding(params, grid)
    masks, iou = predict_masks(params, embedding, image_pe, sparse, dense, config.depth, config.num_heads)
    if return_single_mask:
        masks, iou = _select_single_mask(masks, iou, coords)
    g.output(_postprocess(masks, orig_im_size, frame), "masks")
    g.output(iou, "iou_predictions")
    g.output(masks, "low_res_masks")
    return g


class _ShapeOnly:
    """Stands in for an array a graph does not take as input: its shape and nothing else,
    so any use of its values fails at trace time instead of baking in a constant."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def fast_graphs(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    with_mask_input: bool,
    multimask_output: bool,
    prompt_dims: tuple[int | str, int | str] = ("B", "N"),
    label_dtype: type = np.int64,
    emitters: Emitters = ONNXRUNTIME,
) -> tuple[Graph, Graph]:
    """``samcore.fast`` as (per-image graph, per-prompt graph) for one grid.

    ``prompt_dims`` (B, N): symbolic names for dynamic sizes, or ints for static graphs
    (TFLite: (1, points)); ``label_dtype``: point_labels' dtype (TFLite: int32); ``emitters``:
    the target's emitter set (``samcore.graph.emitters``). A static N
    adds the input num_tokens [B] int32 (``prompt_inputs``).

    Per image: image_embedding [1, C, h, w] -> the ``ImageFeatures`` fields that depend
    on it, by field name: tokens [1, HW, C], t2i_keys, t2i_values, i2t_queries
    [1, heads, HW, d], upscale_base [1, HW, 4 C/4]. Fields that do not (pe [HW, C]) are
    constants of the per-prompt graph.

    Per prompt: point_coords [B, N, 2] float32 and point_labels [B, N] int64 (labelled
    points, ``Prompts.labelled_points``), then without ``with_mask_input`` the per-image
    outputs (same names and shapes), with it image_embedding [1, C, h, w] and mask_input
    [B, 1, 4h, 4w] (the dense prompt changes block 0's image side: no per-image work to reuse)
    -> low_res_logits [B, M, 4h, 4w], iou_predictions [B, M]; M = T-1 with
    ``multimask_output``, else 1 (token 0).
    """
    h, w = grid
    embedding_shape = (1, config.embed_dim, h, w)
    image, per_image, constants = _image_graph(params, config, grid, opset, emitters, pe_in_graph=False)
    prompt = Graph(opset, emitters)
    coords, labels, token_mask = prompt_inputs(prompt, prompt_dims, label_dtype)
    batch = prompt_dims[0]
    if with_mask_input:
        embedding = prompt.input("image_embedding", F32, embedding_shape)
        mask_input = prompt.input("mask_input", F32, (batch, 1, 4 * h, 4 * w))
        # decode_fast reads only the embedding and the constants on this path
        features = ImageFeatures(**dict.fromkeys(per_image), **constants, embedding=embedding)
    else:
        inputs = {name: prompt.input(name, value.dtype, value.shape) for name, value in per_image.items()}
        features = ImageFeatures(**inputs, **constants, embedding=_ShapeOnly(embedding_shape))
        mask_input = None
    logits, iou = decode_fast(params, config, features, coords, labels, mask_input, multimask_output, token_mask)
    prompt.output(logits, "low_res_logits")
    prompt.output(iou, "iou_predictions")
    return image, prompt


#: The weight the upscaling's weight chain (``samcore.fast.upscaling.upscale_weight_chain``) is made from.
UPSCALING_WEIGHT = "mask_decoder.output_upscaling.0.weight"


def _traced_weight(params: Mapping[str, np.ndarray], g: Graph) -> dict[str, np.ndarray | Traced]:
    """``params`` with the first upscaling weight as a graph constant of ``g``: what is computed
    from it (the weight chain, [C, 4 C/4] per layer) is then computed in the graph, not stored."""
    weight = np.asarray(params[UPSCALING_WEIGHT], F32)
    return {**params, UPSCALING_WEIGHT: Traced(g, g.const(weight), F32, weight.shape)}


def _image_graph(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    emitters: Emitters,
    pe_in_graph: bool,
    image: Graph | None = None,
) -> tuple[Graph, dict[str, Traced], dict[str, np.ndarray]]:
    """The per-image graph (image_embedding [1, C, h, w] -> ``ImageFeatures``' traced fields,
    by name) -> (graph, its outputs, the fields that are constants). ``pe_in_graph``: the
    dense positional encoding is computed in the graph from the cells' centres ([HW, 2])
    and is an output, instead of a constant ([HW, C]) of the graph that uses it. ``image``:
    the graph to trace into (None: a new one)."""
    h, w = grid
    image = image or Graph(opset, emitters)
    pe = None
    if pe_in_graph:
        centres = cell_centres(grid).reshape(h * w, 2)
        pe = positional_encoding(params, Traced(image, image.const(centres), F32, centres.shape))
    traced = image_features(params, config, image.input("image_embedding", F32, (1, config.embed_dim, h, w)), pe)
    fields = {f.name: getattr(traced, f.name) for f in dataclasses.fields(traced) if f.name != "embedding"}
    per_image = {name: value for name, value in fields.items() if isinstance(value, Traced)}
    constants = {name: value for name, value in fields.items() if name not in per_image}
    for name, value in per_image.items():
        image.output(value, name)
    return image, per_image, constants


def web_graphs(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    emitters: Emitters = PORTABLE,
) -> tuple[Graph, Graph]:
    """``samcore.fast`` for a browser page, as (per-image graph, per-prompt graph). The
    portable emitters by default (one Gelu node, opset >= 20): onnxruntime-web's WASM build
    loads and runs them faster than the Erf pattern its CPU build fuses (benchmarks/web.py).

    Per image (run once, when the embedding arrives): image_embedding [1, C, h, w] ->
    tokens [1, HW, C], pe [HW, C] (computed from the cells' centres, not stored),
    t2i_keys, t2i_values, i2t_queries [1, heads, HW, d], upscale_base [1, HW, 4 C/4], and
    upscaling_weight [C, C/4, 2, 2] (the first upscaling conv's weight, which both graphs
    need: the per-image graph stores it and hands it on, so the download holds it once).

    Per prompt: point_coords [B, N, 2] float32 (in the encoder's frame), point_labels
    [B, N] int64 (gathered: ``gather_point_prompts``), the per-image outputs (same names)
    -> Meta's single mask: low_res_masks [B, 1, 4h, 4w] (logits), iou_predictions [B, 1].
    One mask is chosen as ``SamOnnxModel`` chooses (token 0 for more than 2.5 points, else
    the best of the others), before the upscaled product: only its logits are computed. The
    resize to the image's size is the page's (web/masks.js): two thin passes there cost less
    than two Resize nodes.
    """
    image = Graph(opset, emitters)
    image_params = _traced_weight(params, image)
    image, per_image, _ = _image_graph(image_params, config, grid, opset, emitters, True, image)
    weight = image_params[UPSCALING_WEIGHT]  # stored once: the per-prompt graph takes it as an input
    image.output(weight._op("Identity", [weight]), "upscaling_weight")
    prompt = Graph(opset, emitters)
    params = {**params, UPSCALING_WEIGHT: prompt.input("upscaling_weight", F32, weight.shape)}
    coords, labels, _ = prompt_inputs(prompt, ("B", "N"), np.int64)
    inputs = {name: prompt.input(name, value.dtype, value.shape) for name, value in per_image.items()}
    features = ImageFeatures(**inputs, embedding=_ShapeOnly((1, config.embed_dim, *grid)))
    masks, iou = decode_fast(params, config, features, coords, labels, None, None,
                             select=lambda hyper, scores: _select_single_mask(hyper, scores, coords))
    prompt.output(masks, "low_res_masks")
    prompt.output(iou, "iou_predictions")
    return image, prompt


def prompt_inputs(
    g: Graph, prompt_dims: tuple[int | str, int | str], label_dtype: type
) -> tuple[Traced, Traced, Traced | None]:
    """point_coords [B, N, 2] float32 and point_labels [B, N] inputs, and with a static N
    (an int) num_tokens [B] int32, the number of real tokens at the front of each prompt
    (the rest are fillers, never attended to) -> (coords, labels, token mask [B, N] float32
    or None)."""
    batch, points = prompt_dims
    coords = g.input("point_coords", F32, (batch, points, 2))
    labels = g.input("point_labels", label_dtype, (batch, points))
    if not isinstance(points, int):
        return coords, labels, None
    count = g.input("num_tokens", np.int32, (batch,))
    return coords, labels, np.less(np.arange(points, dtype=np.int32)[None, :], count[:, None]).astype(F32)


def fast_single_graph(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    opset: int,
    points: int,
    with_mask_input: bool,
    label_dtype: type = np.int32,
    emitters: Emitters = ONNXRUNTIME,
) -> Graph:
    """``samcore.fast`` as one static graph for one prompt of ``points`` tokens (TFLite's
    ``export_tflite``): the per-image features and the decoding of every mask token.

    Inputs: image_embedding [1, C, h, w] float32, point_coords [1, N, 2] float32,
    point_labels [1, N], num_tokens [1] int32 (``prompt_inputs``), with ``with_mask_input``
    mask_input [1, 1, 4h, 4w]. Outputs: low_res_logits [1, T, 4h, 4w], iou_predictions [1, T].
    """
    g = Graph(opset, emitters)
    h, w = grid
    embedding = g.input("image_embedding", F32, (1, config.embed_dim, h, w))
    coords, labels, token_mask = prompt_inputs(g, (1, points), label_dtype)
    mask_input = g.input("mask_input", F32, (1, 1, 4 * h, 4 * w)) if with_mask_input else None
    features = image_features(params, config, embedding)
    logits, iou = decode_fast(params, config, features, coords, labels, mask_input, None, token_mask)
    g.output(logits, "low_res_logits")
    g.output(iou, "iou_predictions")
    return g
