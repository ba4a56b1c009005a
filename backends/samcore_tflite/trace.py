"""The spec traced with static shapes (one prompt, a fixed number of points) by samcore_onnx's tracer.

The result is an ONNX model whose every value has a static shape (ONNX shape inference
fills them in) and whose constant subgraphs are folded, ready to lower op by op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from samcore.config import DecoderConfig

F32 = np.float32
#: ONNX opset of the traced graph (LayerNormalization needs 17).
OPSET = 17


def static_graph(
    params: Mapping[str, np.ndarray], config: DecoderConfig, grid: tuple[int, int], points: int, with_mask_input: bool
) -> Any:
    """``samcore_onnx.graphs.samcore_graph`` for B = 1 and N = ``points``, labels int32.

    Inputs: image_embedding [1, C, h, w] float32, point_coords [1, N, 2] float32,
    point_labels [1, N] int32, and with ``with_mask_input`` mask_input [1, 1, 4h, 4w]
    float32. Outputs: low_res_logits [1, T, 4h, 4w], iou_predictions [1, T].
    Returns the ``onnx.ModelProto`` with shapes inferred.
    """
    import onnx
    import samcore_onnx.emitters  # noqa: F401 (registers the native emitters)
    from samcore_onnx.tracer import Graph

    from samcore.spec.mask_decoder import predict_masks
    from samcore.spec.prompt_encoder import dense_positional_encoding, embed_mask, embed_points, no_mask_embedding

    g = Graph(OPSET)
    h, w = grid
    embedding = g.input("image_embedding", F32, (1, config.embed_dim, h, w))
    coords = g.input("point_coords", F32, (1, points, 2))
    labels = g.input("point_labels", np.int32, (1, points))
    sparse = embed_points(params, coords, labels, config.frame_size(grid))
    if with_mask_input:
        dense = embed_mask(params, g.input("mask_input", F32, (1, 1, 4 * h, 4 * w)))
    else:
        dense = no_mask_embedding(params, 1, grid)
    image_pe = dense_positional_encoding(params, grid)  # NumPy: a constant of the graph
    masks, iou = predict_masks(params, embedding, image_pe, sparse, dense, config.depth, config.num_heads)
    g.output(masks, "low_res_logits")
    g.output(iou, "iou_predictions")
    model = g.model("samcore_decoder_static", "")
    return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)


def shapes_and_types(model: Any) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Value name -> (static shape, dtype) for every input, output, value and initializer."""
    from onnx import helper

    found = {}
    for info in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        t = info.type.tensor_type
        dims = tuple(d.dim_value for d in t.shape.dim)
        if any(not d.HasField("dim_value") for d in t.shape.dim):
            raise ValueError(f"value {info.name} has a symbolic shape {t.shape}: the TFLite graph must be static")
        found[info.name] = (dims, np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)))
    for init in model.graph.initializer:
        found[init.name] = (tuple(init.dims), np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type)))
    return found


def fold_constants(model: Any) -> tuple[list[Any], dict[str, np.ndarray]]:
    """(nodes left to run, constants): every node whose inputs are all constants is
    evaluated now with ONNX's reference implementation, except Expand (a broadcast
    constant stays small: the lowering materialises it only where no op broadcasts it)."""
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    constants = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type not in ("Identity", "Expand") and all(name in constants for name in node.input if name):
            outputs = ReferenceEvaluator(node).run(None, {name: constants[name] for name in node.input if name})
            constants.update(zip(node.output, (np.asarray(v) for v in outputs), strict=True))
        else:
            nodes.append(node)
    return nodes, constants
