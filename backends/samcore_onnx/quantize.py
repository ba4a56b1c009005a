"""The int8 per-prompt graph: ``OnnxBackend(dtype="int8")``'s upscaling GEMM in int8.

The second upscaling GEMM, features [16 B hw, C/4] x its weight [C/4, 4 C/8] (+ bias),
the largest product of a click (16 hw rows, a constant weight), becomes ONNX Runtime's
``DynamicQuantizeMatMul`` (com.microsoft): the weight stored as int8, symmetric, one scale
per output column; the features quantized per tensor on each run (uint8, asymmetric); the
bias added in the kernel (VNNI kernels where the CPU has them).

The other products of a click stay float32, measured (docs/benchmarks.md, "ONNX int8
decoder, issue 15"): their second operands are activations (the image tokens a prompt
updates, its attention factors), which int8 must quantize and pack on every run and
whose transposed first operands it must materialise; their inner dimensions are small
(56-116, the tokens times heads), so they gain little or lose in int8. The token->image
products are softmaxes over HW keys, most weights below an int8 step.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

#: The metadata key that records a model's dtype (absent: float32).
DTYPE_PROP = "samcore.dtype"
CONTRIB = "com.microsoft"


def int8_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A weight [K, N] as symmetric int8 (-127..127) with one float32 scale per column: (q [K, N], scales [N])."""
    peak = np.abs(weight).max(axis=0)
    scales = np.where(peak > 0, peak / 127, 1).astype(np.float32)
    return np.clip(np.rint(weight / scales), -127, 127).astype(np.int8), scales


def _the_products(model: onnx.ModelProto, weight: np.ndarray) -> list[onnx.NodeProto]:
    """The MatMuls whose second operand is the constant ``weight`` (one, or one per chunk of
    image tokens: ONNX Runtime's emitters make the upscaling in chunks); ``RuntimeError`` if none."""
    constants = {t.name: t for t in model.graph.initializer if tuple(t.dims) == weight.shape}
    found = [node for node in model.graph.node if node.op_type == "MatMul" and node.input[1] in constants
             and np.array_equal(numpy_helper.to_array(constants[node.input[1]]), weight)]
    if not found:
        raise RuntimeError("int8 decoder: expected a product with the upscaling weight, found none")
    return found


def _bias_add(model: onnx.ModelProto, product: onnx.NodeProto, columns: int) -> onnx.NodeProto | None:
    """The Add of a constant [columns] bias that is the product's only consumer, if it is one."""
    consumers = [node for node in model.graph.node if product.output[0] in node.input]
    constants = {t.name: t for t in model.graph.initializer}
    if len(consumers) != 1 or consumers[0].op_type != "Add":
        return None
    other = [name for name in consumers[0].input if name != product.output[0]]
    bias = constants.get(other[0]) if len(other) == 1 else None
    return consumers[0] if bias is not None and tuple(bias.dims) == (columns,) else None


def quantize_decode(model: onnx.ModelProto, upscale_weight: np.ndarray) -> onnx.ModelProto:
    """A copy of ``export_fast_onnx``'s per-prompt model with the upscaling GEMM (each MatMul by
    ``upscale_weight`` [C/4, 4 C/8], ``samcore.fast.upscaling_gemms(params).w2``) and its bias
    Add as an int8 ``DynamicQuantizeMatMul``; metadata kept, ``samcore.dtype`` = "int8"."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    q, scales = int8_columns(upscale_weight)
    names = ["upscaling_weight_int8", "upscaling_weight_int8_scales"]
    model.graph.initializer.extend([numpy_helper.from_array(q, names[0]), numpy_helper.from_array(scales, names[1])])
    nodes = list(model.graph.node)
    for product in _the_products(model, upscale_weight):
        add = _bias_add(model, product, upscale_weight.shape[1])
        inputs = [product.input[0], *names]
        if add is not None:
            inputs += ["", next(name for name in add.input if name != product.output[0])]
        output = (add or product).output[0]
        fused = helper.make_node("DynamicQuantizeMatMul", inputs, [output], name=f"{product.name}_int8",
                                 domain=CONTRIB)
        nodes[nodes.index(product)] = fused
        if add is not None:
            nodes.remove(add)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in model.graph.node for name in node.input}
    initializers = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(initializers)
    if all(entry.domain != CONTRIB for entry in model.opset_import):
        model.opset_import.append(helper.make_opsetid(CONTRIB, 1))
    props = {p.key: p.value for p in model.metadata_props} | {DTYPE_PROP: "int8"}
    onnx.helper.set_model_props(model, props)
    model.doc_string += " (upscaling GEMM in int8)"
    return model
