"""The int8 per-prompt graph: ``OnnxBackend(dtype="int8")``'s products over the image tokens in int8.

Which products (``int8_products``), chosen for what int8 keeps exact enough:

- the second upscaling GEMM, features [16 B hw, C/4] x its weight [C/4, 4 C/8] (a
  constant: the node whose weight is ``samcore.fast.upscaling_gemms(params).w2``);
- the image updates' sums over tokens, weights^T [B, HW, R] x u [B, R, C] (each layer's
  ``weights.transpose(0, 2, 1) @ u``, and ``upscale_input``'s ``left^T @ right``): the
  first operand of each is a transposed [B, R, HW] activation, the second one not a
  constant. The image->token weights are softmaxes over a few tokens, so every one is
  far above the int8 step.

Both operands are quantized per tensor at run time (ONNX Runtime's
``DynamicQuantizeLinear``: uint8, asymmetric), constant weights ahead of time (int8,
symmetric, per tensor: ``onnxruntime.quantization.quantize_dynamic``, whose per-channel
weights ONNX Runtime 1.32 refuses at run time); ONNX Runtime fuses each into one
``DynamicQuantizeMatMul`` (VNNI kernels where the CPU has them).
Left in float32: the token-side layers (a few rows each), the attention scores against
the image tokens and the token->image softmax products (softmaxes over HW keys: most
weights fall below the int8 step; quantizing them costs the masks their agreement).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

#: The metadata key that records a model's dtype (absent: float32).
DTYPE_PROP = "samcore.dtype"


def _transposed_rows(node: onnx.NodeProto, producers: dict[str, onnx.NodeProto]) -> bool:
    """Whether ``node``'s first operand is a [B, R, HW] activation transposed to [B, HW, R]."""
    source = producers.get(node.input[0])
    if source is None or source.op_type != "Transpose":
        return False
    perm = next((list(a.ints) for a in source.attribute if a.name == "perm"), None)
    return perm == [0, 2, 1]


def int8_products(model: onnx.ModelProto, upscale_weight: np.ndarray) -> list[str]:
    """Names of the per-prompt graph's MatMul nodes to run in int8 (see the module doc):
    the one whose constant second operand equals ``upscale_weight`` [C/4, 4 C/8], and every
    activation x activation product whose first operand is a (0, 2, 1) Transpose."""
    constants = {t.name: t for t in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}
    chosen = []
    for node in model.graph.node:
        if node.op_type != "MatMul":
            continue
        weight = constants.get(node.input[1])
        if weight is None:
            if _transposed_rows(node, producers):
                chosen.append(node.name)
        elif tuple(weight.dims) == upscale_weight.shape and np.array_equal(numpy_helper.to_array(weight),
                                                                           upscale_weight):
            chosen.append(node.name)
    return chosen


def quantize_decode(model: onnx.ModelProto, upscale_weight: np.ndarray, expected: int) -> onnx.ModelProto:
    """``export_fast_onnx``'s per-prompt model with ``int8_products`` in int8 (dynamic
    quantization, see the module doc), metadata kept and ``samcore.dtype`` = "int8".
    ``expected``: how many products the graph must have (a graph of another shape raises
    ``RuntimeError`` rather than quietly running in float32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = int8_products(model, upscale_weight)
    if len(nodes) != expected:
        raise RuntimeError(f"int8 decoder: expected {expected} products over the image tokens, found {nodes}")
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic advises pre-processing at WARNING, every time
    try:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "decode-int8.onnx"
            quantize_dynamic(model, target, weight_type=QuantType.QInt8, nodes_to_quantize=nodes,
                             extra_options={"MatMulConstBOnly": False})
            quantized = onnx.load(target)
    finally:
        logging.getLogger().setLevel(quiet)
    props = {p.key: p.value for p in model.metadata_props} | {DTYPE_PROP: "int8"}
    onnx.helper.set_model_props(quantized, props)
    quantized.doc_string = model.doc_string + " (products over the image tokens in int8)"
    return quantized
