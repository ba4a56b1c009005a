"""Lower the static, constant-folded ONNX graph (``trace.py``, portable nodes) to TFLite builtins.

One ONNX node becomes one or a few builtins; the graph stays in the spec's NCHW layout
and convolutions transpose to and from NHWC around themselves (``rewrite.py`` then
cancels the transposes that meet).

- MatMul with a constant right side -> FULLY_CONNECTED (PyTorch's [out, in] weight); else BATCH_MATMUL.
- Gelu -> GELU; ReduceMean / ReduceMax / ReduceSum -> MEAN / REDUCE_MAX / SUM.
- Conv (stride = kernel, SAM's only kind) -> CONV_2D in NHWC.
- LayerNormalization -> MEAN, SUB, MUL, MEAN, ADD, RSQRT, MUL, MUL, ADD.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from samcore_tflite import trace
from samcore_tflite.ir import NONE, Graph

NCHW_TO_NHWC, NHWC_TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)
_ELEMENTWISE = {"Add": "ADD", "Sub": "SUB", "Mul": "MUL", "Div": "DIV"}
_UNARY = {"Sin": "SIN", "Cos": "COS", "Sqrt": "SQRT", "Relu": "RELU", "Not": "LOGICAL_NOT", "Exp": "EXP"}
_REDUCE = {"ReduceMax": "REDUCE_MAX", "ReduceSum": "SUM", "ReduceMean": "MEAN"}


class Lowering:
    """State of one lowering: the TFLite graph, ONNX value -> TFLite tensor, shapes."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.info = trace.shapes_and_types(model)
        self.g = Graph()
        self.names: dict[str, str] = {}  # ONNX value -> TFLite tensor
        self.lazy: dict[str, tuple[np.ndarray, tuple[int, ...]]] = {}  # Expand of a constant, not materialised

    # --- values ----------------------------------------------------------------------------------

    def constant(self, name: str) -> np.ndarray | None:
        """The data of an ONNX value if it is a constant (an Expand of one is materialised)."""
        tensor = self.names.get(name)
        if tensor is not None and self.g.is_const(tensor):
            return self.g.data(tensor)
        if name in self.lazy:
            data, shape = self.lazy[name]
            return np.ascontiguousarray(np.broadcast_to(data, shape))
        return None

    def tensor(self, name: str) -> str:
        """The TFLite tensor holding an ONNX value (an Expand of a constant becomes a constant)."""
        if name == "":
            return NONE
        if name not in self.names and name in self.lazy:
            self.names[name] = self.g.const(self.constant(name))
        return self.names[name]

    def out(self, node: Any, i: int = 0) -> tuple[tuple[int, ...], np.dtype]:
        return self.info[node.output[i]]

    def emit(self, node: Any, code: str, inputs: list[str], **options: Any) -> str:
        """One builtin writing ``node``'s output."""
        shape, dtype = self.out(node)
        self.names[node.output[0]] = self.g.op(code, inputs, shape, dtype, **options)
        return self.names[node.output[0]]

    def reshape(self, x: str, shape: tuple[int, ...], name: str | None = None) -> str:
        shape_tensor = self.g.const(np.array(shape, np.int32))
        return self.g.op("RESHAPE", [x, shape_tensor], shape, self.g.tensors[x].dtype, name=name,
                         newShape=list(shape))

    def transpose(self, x: str, perm: tuple[int, ...]) -> str:
        shape = tuple(self.g.shape(x)[p] for p in perm)
        return self.g.op("TRANSPOSE", [x, self.g.const(np.array(perm, np.int32))], shape, self.g.tensors[x].dtype)

    # --- the graph -------------------------------------------------------------------------------

    def run(self) -> Graph:
        nodes, constants = trace.fold_constants(self.model)
        for name, data in constants.items():
            self.names[name] = self.g.const(data)
        for value in self.model.graph.input:
            shape, dtype = self.info[value.name]
            self.names[value.name] = self.g.input(value.name, shape, dtype)
        for node in nodes:
            handler = _LOWER.get(node.op_type)
            if handler is None:
                raise NotImplementedError(f"no TFLite lowering for ONNX {node.op_type} ({node.name})")
            handler(self, node, _attributes(node))
        for value in self.model.graph.output:
            self.g.outputs.append(self.tensor(value.name))
        return self.g


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _identity(lw: Lowering, node: Any, attrs: dict) -> None:
    """An output's name: the tensor producing it takes the name (or is copied by a RESHAPE)."""
    source = lw.tensor(node.input[0])
    name = node.output[0]
    if source in lw.g.inputs or lw.g.is_const(source) or name in lw.g.tensors:
        lw.names[name] = lw.reshape(source, lw.g.shape(source), name=name)
        return
    tensor = lw.g.tensors.pop(source)
    tensor.name = name
    lw.g.tensors[name] = tensor
    for op in lw.g.ops:
        op.outputs = [name if n == source else n for n in op.outputs]
    lw.g.replace_uses(source, name)
    lw.names = {k: (name if v == source else v) for k, v in lw.names.items()}
    lw.names[name] = name


def _compact(data: np.ndarray, out_shape: tuple[int, ...], rest: tuple[int, ...]) -> np.ndarray:
    """``data`` with every axis along which its values repeat cut to size 1, where the other
    operands (broadcast shape ``rest``) still give the output its size there."""
    rank = len(out_shape)
    rest = (1,) * (rank - len(rest)) + tuple(rest)
    data = data.reshape((1,) * (rank - data.ndim) + data.shape)
    for axis in range(rank):
        if data.shape[axis] > 1 and rest[axis] == out_shape[axis]:
            first = data.take([0], axis=axis)
            if np.array_equal(data, np.broadcast_to(first, data.shape)):
                data = first
    while data.ndim and data.shape[0] == 1 and data.ndim > 1:
        data = data[0]
    return np.ascontiguousarray(data)


def _elementwise(lw: Lowering, node: Any, attrs: dict) -> None:
    """ADD/SUB/MUL/DIV; a constant operand that only repeats along broadcast axes (an
    expanded embedding) is stored at its small size and broadcast by the op."""
    out_shape = lw.out(node)[0]
    inputs = []
    for name in node.input:
        data = lw.constant(name)
        others = [lw.info[n][0] for n in node.input if n != name]
        if data is not None and others:
            inputs.append(lw.g.const(_compact(data, out_shape, np.broadcast_shapes(*others))))
        else:
            inputs.append(lw.tensor(name))
    lw.emit(node, _ELEMENTWISE[node.op_type], inputs)


def _unary(lw: Lowering, node: Any, attrs: dict) -> None:
    lw.emit(node, _UNARY[node.op_type], [lw.tensor(node.input[0])])


def _matmul(lw: Lowering, node: Any, attrs: dict) -> None:
    a, b = node.input
    b_const = lw.constant(b)
    if b_const is not None and b_const.ndim == 2 and len(lw.info[a][0]) >= 2:
        weight = np.ascontiguousarray(b_const.T)
        lw.emit(node, "FULLY_CONNECTED", [lw.tensor(a), lw.g.const(weight), NONE], keepNumDims=True)
    else:
        lw.emit(node, "BATCH_MATMUL", [lw.tensor(a), lw.tensor(b)])


def _softmax(lw: Lowering, node: Any, attrs: dict) -> None:
    rank = len(lw.info[node.input[0]][0])
    if attrs.get("axis", -1) % rank != rank - 1:
        raise NotImplementedError("Softmax over an axis other than the last")
    lw.emit(node, "SOFTMAX", [lw.tensor(node.input[0])], beta=1.0)


def _reduce(lw: Lowering, node: Any, attrs: dict) -> None:
    """REDUCE_MAX / SUM / MEAN over constant axes (an input, or the attribute before opset 18)."""
    rank = len(lw.info[node.input[0]][0])
    axes = lw.constant(node.input[1]) if len(node.input) > 1 else attrs["axes"]
    axes = np.array([a % rank for a in np.ravel(axes)], np.int32)
    lw.emit(node, _REDUCE[node.op_type], [lw.tensor(node.input[0]), lw.g.const(axes)],
            keepDims=bool(attrs.get("keepdims", 1)))


def _layer_norm(lw: Lowering, node: Any, attrs: dict) -> None:
    """(x - mean) * rsqrt(mean((x - mean)^2) + eps) * gamma + beta over the last axis (and the
    optional outputs mean and rsqrt(...))."""
    g = lw.g
    x, gamma, beta = (lw.tensor(n) for n in node.input)
    shape = g.shape(x)
    if attrs.get("axis", -1) % len(shape) != len(shape) - 1:
        raise NotImplementedError("LayerNormalization over axes other than the last")
    axis = g.const(np.array([len(shape) - 1], np.int32))
    reduced = (*shape[:-1], 1)
    mean = g.op("MEAN", [x, axis], reduced, keepDims=True)
    centred = g.op("SUB", [x, mean], shape)
    var = g.op("MEAN", [g.op("MUL", [centred, centred], shape), axis], reduced, keepDims=True)
    eps = g.const(np.float32(attrs.get("epsilon", 1e-5)))
    inv = g.op("RSQRT", [g.op("ADD", [var, eps], reduced)], reduced)
    scaled = g.op("MUL", [g.op("MUL", [centred, inv], shape), gamma], shape)
    lw.emit(node, "ADD", [scaled, beta])
    for output, value in zip(node.output[1:], (mean, inv), strict=False):  # optional Mean, InvStdDev
        if output:
            lw.names[output] = value


def _stride_is_kernel(attrs: dict, k: int) -> None:
    if list(attrs.get("strides", [1, 1])) != [k, k] or any(attrs.get("pads", [0])) or attrs.get("group", 1) != 1:
        raise NotImplementedError(f"convolutions other than stride = kernel = {k} without padding")


def _conv(lw: Lowering, node: Any, attrs: dict) -> None:
    """NCHW Conv -> TRANSPOSE, CONV_2D (filter [Cout, k, k, Cin]), TRANSPOSE."""
    weight = lw.constant(node.input[1])
    k = weight.shape[-1]
    _stride_is_kernel(attrs, k)
    x = lw.transpose(lw.tensor(node.input[0]), NCHW_TO_NHWC)
    filt = lw.g.const(np.ascontiguousarray(weight.transpose(0, 2, 3, 1)))
    b, cout, h, w = lw.out(node)[0]
    y = lw.g.op("CONV_2D", [x, filt, lw.tensor(node.input[2])], (b, h, w, cout), padding="VALID", strideW=k,
                strideH=k)
    lw.emit(node, "TRANSPOSE", [y, lw.g.const(np.array(NHWC_TO_NCHW, np.int32))])


def _reshape(lw: Lowering, node: Any, attrs: dict) -> None:
    shape = lw.out(node)[0]
    lw.emit(node, "RESHAPE", [lw.tensor(node.input[0]), lw.g.const(np.array(shape, np.int32))],
            newShape=list(shape))


def _transpose(lw: Lowering, node: Any, attrs: dict) -> None:
    perm = attrs.get("perm") or list(range(len(lw.info[node.input[0]][0])))[::-1]
    lw.emit(node, "TRANSPOSE", [lw.tensor(node.input[0]), lw.g.const(np.array(perm, np.int32))])


def _concat(lw: Lowering, node: Any, attrs: dict) -> None:
    axis = attrs["axis"] % len(lw.out(node)[0])
    lw.emit(node, "CONCATENATION", [lw.tensor(n) for n in node.input], axis=axis)


def _slice(lw: Lowering, node: Any, attrs: dict) -> None:
    """Static Slice -> SLICE (unit steps) or STRIDED_SLICE."""
    shape = lw.info[node.input[0]][0]
    starts, ends = lw.constant(node.input[1]), lw.constant(node.input[2])
    axes = lw.constant(node.input[3]) if len(node.input) > 3 else np.arange(len(starts))
    steps = lw.constant(node.input[4]) if len(node.input) > 4 else np.ones(len(starts), np.int64)
    begin, end, stride = [0] * len(shape), list(shape), [1] * len(shape)
    for start, stop, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = int(axis) % len(shape)
        begin[axis], end[axis], stride[axis] = slice(int(start), int(stop), int(step)).indices(shape[axis])
    x = lw.tensor(node.input[0])
    if all(s == 1 for s in stride):
        size = [e - b for b, e in zip(begin, end, strict=True)]
        lw.emit(node, "SLICE", [x, lw.g.const(np.array(begin, np.int32)), lw.g.const(np.array(size, np.int32))])
    else:
        bounds = [lw.g.const(np.array(v, np.int32)) for v in (begin, end, stride)]
        lw.emit(node, "STRIDED_SLICE", [x, *bounds])


def _expand(lw: Lowering, node: Any, attrs: dict) -> None:
    data = lw.constant(node.input[0])
    if data is not None:  # keep it small: materialised only where no op broadcasts it
        lw.lazy[node.output[0]] = (data, lw.out(node)[0])
        return
    shape = lw.out(node)[0]
    lw.emit(node, "BROADCAST_TO", [lw.tensor(node.input[0]), lw.g.const(np.array(shape, np.int32))])


def _cast(lw: Lowering, node: Any, attrs: dict) -> None:
    x = lw.tensor(node.input[0])
    dtype = lw.out(node)[1]
    lw.emit(node, "CAST", [x], inDataType=lw.g.tensors[x].dtype, outDataType=dtype)


_LOWER: dict[str, Callable[[Lowering, Any, dict], None]] = {
    **dict.fromkeys(_ELEMENTWISE, _elementwise),
    **dict.fromkeys(_UNARY, _unary),
    **dict.fromkeys(_REDUCE, _reduce),
    "MatMul": _matmul,
    "Softmax": _softmax,
    "LayerNormalization": _layer_norm,
    "Conv": _conv,
    "Reshape": _reshape,
    "Squeeze": _reshape,
    "Unsqueeze": _reshape,
    "Transpose": _transpose,
    "Concat": _concat,
    "Slice": _slice,
    "Expand": _expand,
    "Cast": _cast,
    "Equal": lambda lw, node, attrs: lw.emit(node, "EQUAL", [lw.tensor(n) for n in node.input]),
    "Less": lambda lw, node, attrs: lw.emit(node, "LESS", [lw.tensor(n) for n in node.input]),
    "Gelu": lambda lw, node, attrs: lw.emit(node, "GELU", [lw.tensor(node.input[0])],
                                            approximate=attrs.get("approximate", "none") in (b"tanh", "tanh")),
    "Identity": _identity,
}


def lower(model: Any) -> Graph:
    """The TFLite graph of a static ONNX model from ``trace.static_graph``."""
    return Lowering(model).run()
