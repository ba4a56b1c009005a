"""The fast formulation traced with static shapes (one prompt, a fixed number of points) by
``samcore.graph`` with the portable emitter set.

The result is an ONNX model whose every value has a static shape (ONNX shape inference
fills them in) and whose constant subgraphs are folded, ready to lower op by op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from samcore.config import DecoderConfig
from samcore.graph.emitters import PORTABLE
from samcore.graph.emitters.portable import OPSET as PORTABLE_OPSET

F32 = np.float32
#: ONNX opset of the traced graph: the portable emitters' (Gelu needs 20).
OPSET = PORTABLE_OPSET


def static_graph(
    params: Mapping[str, np.ndarray], config: DecoderConfig, grid: tuple[int, int], points: int, with_mask_input: bool
) -> Any:
    """``samcore.graph.builders.fast_single_graph`` (the fast formulation, every mask token) for
    B = 1 and N = ``points``, labels int32, every shape static.

    Inputs: image_embedding [1, C, h, w] float32, point_coords [1, N, 2] float32,
    point_labels [1, N] int32, num_tokens [1] int32 (the real tokens; the rest are fillers),
    and with ``with_mask_input`` mask_input [1, 1, 4h, 4w] float32. Outputs: low_res_logits
    [1, T, 4h, 4w], iou_predictions [1, T]. Returns the ``onnx.ModelProto`` with shapes inferred.
    """
    import onnx

    from samcore.graph.builders import fast_single_graph

    g = fast_single_graph(params, config, grid, OPSET, points, with_mask_input, emitters=PORTABLE)
    model = onnx.shape_inference.infer_shapes(g.model("samcore_decoder_static", ""), check_type=True,
                                              strict_mode=True)
    return _static_shapes(model)


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


def static_fast_graphs(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    grid: tuple[int, int],
    points: int,
    with_mask_input: bool,
    multimask_output: bool,
) -> tuple[Any, Any]:
    """``samcore.fast`` as (per-image model, per-prompt model), B = 1, N = ``points``,
    labels int32, every shape static (``samcore.graph.builders.fast_graphs`` with static shapes).

    Per image: image_embedding [1, C, h, w] -> tokens [1, HW, C], t2i_keys, t2i_values,
    i2t_queries [1, heads, HW, d], upscale_base [1, HW, 4 C/4]. Per prompt: point_coords [1, N, 2] float32,
    point_labels [1, N] int32, then without ``with_mask_input`` the per-image outputs (same
    names), with it image_embedding and mask_input [1, 1, 4h, 4w] -> low_res_logits
    [1, M, 4h, 4w], iou_predictions [1, M] (M = T-1 with ``multimask_output``, else 1).
    Returns the two ``onnx.ModelProto`` with shapes inferred.
    """
    import onnx

    from samcore.graph.builders import fast_graphs

    image, prompt = fast_graphs(params, config, grid, OPSET, with_mask_input, multimask_output, emitters=PORTABLE,
                                prompt_dims=(1, points), label_dtype=np.int32)
    models = (image.model("samcore_image_static", ""), prompt.model("samcore_prompt_static", ""))
    return tuple(_static_shapes(onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True))
                 for m in models)


def _static_shapes(model: Any) -> Any:
    """``model`` with its run-time shape arithmetic evaluated: Shape of a value of static
    shape, then int64 ops on constants only, folded into initializers until shape inference
    leaves no symbolic dim (the tracer reads a dim it inferred, -1 in a reshape, at run time)."""
    import onnx
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    while True:
        graph = model.graph
        constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        shapes = {}
        for info in (*graph.input, *graph.value_info, *graph.output):
            dims = info.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                shapes[info.name] = tuple(d.dim_value for d in dims)
        folded = {}
        for node in graph.node:
            if node.op_type == "Shape" and node.input[0] in shapes:
                start = next((a.i for a in node.attribute if a.name == "start"), 0)
                end = next((a.i for a in node.attribute if a.name == "end"), None)
                folded[node.output[0]] = np.array(shapes[node.input[0]][start:end], np.int64)
            elif (node.op_type not in ("Identity", "Expand") and node.input
                  and all(n in constants and constants[n].dtype == np.int64 and constants[n].size <= 16
                          for n in node.input if n)):
                outputs = ReferenceEvaluator(node).run(None, {n: constants[n] for n in node.input if n})
                folded.update(zip(node.output, (np.asarray(v) for v in outputs), strict=True))
        if not folded:
            return model
        nodes = [n for n in graph.node if not any(o in folded for o in n.output)]
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in folded.items())
        del graph.value_info[:]  # inferred again, now with the folded shapes
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
