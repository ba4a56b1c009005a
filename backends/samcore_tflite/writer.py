"""Serialise an ``ir.Graph`` as a TFLite flatbuffer, and read a file's operators back.

Uses the schema module that ships with ai-edge-litert (``schema_py_generated``, the
object API) and ``flatbuffers``; no TensorFlow. Constant buffers are 16-byte aligned
as the TFLite converter writes them (int8 and float16 kernels read them in place).
Operator versions follow TFLite's rules (``tensorflow/lite/tools/versioning``) for the
few features this exporter uses, so an older runtime refuses what it cannot run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from samcore_tflite.ir import NONE, Graph, Op

#: Builtin operator -> (BuiltinOptions member, options class) of the schema; others take none.
OPTIONS = {
    "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "BATCH_MATMUL": "BatchMatMulOptions", "CONV_2D": "Conv2DOptions",
    "SOFTMAX": "SoftmaxOptions", "MEAN": "ReducerOptions",
    "RESHAPE": "ReshapeOptions", "TRANSPOSE": "TransposeOptions", "CONCATENATION": "ConcatenationOptions",
    "GELU": "GeluOptions", "CAST": "CastOptions", "EQUAL": "EqualOptions", "NOT_EQUAL": "NotEqualOptions",
    "SLICE": "SliceOptions", "STRIDED_SLICE": "StridedSliceOptions", "DEQUANTIZE": "DequantizeOptions",
    "LOGICAL_NOT": "LogicalNotOptions", "BROADCAST_TO": "BroadcastToOptions", "COS": "CosOptions",
    "REDUCE_MAX": "ReducerOptions", "SUM": "ReducerOptions",
    "EXP": "ExpOptions", "LESS": "LessOptions",
}
_TYPES = {"float32": "FLOAT32", "float16": "FLOAT16", "int32": "INT32", "int64": "INT64", "int8": "INT8",
          "bool": "BOOL", "uint8": "UINT8"}
ALIGNMENT = 16


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def tensor_type(dtype: np.dtype) -> int:
    """The schema's TensorType of a NumPy dtype."""
    return getattr(_schema().TensorType, _TYPES[np.dtype(dtype).name])


def op_version(graph: Graph, op: Op) -> int:
    """The lowest operator version a runtime needs for ``op`` as used here."""
    dtypes = [graph.tensors[n].dtype.name if n != NONE else None for n in op.inputs]
    per_channel = any(graph.tensors[n].scales is not None and graph.tensors[n].scales.size > 1
                      for n in op.inputs if n != NONE)
    rank = max((len(graph.shape(n)) for n in op.inputs if n != NONE), default=0)
    hybrid = dtypes[:2] == ["float32", "int8"]
    if op.code == "FULLY_CONNECTED":
        if hybrid:
            return 12 if per_channel else (9 if op.options.get("asymmetricQuantizeInputs") else 3)
        return 5 if op.options.get("keepNumDims") else 1
    if op.code == "CONV_2D":
        return (5 if per_channel else 2) if hybrid else 1
    if op.code == "DEQUANTIZE":
        return {"float16": 3, "int8": 5 if per_channel else 2}.get(dtypes[0], 1)
    if op.code in ("TRANSPOSE", "SLICE") and rank > 4:
        return {"TRANSPOSE": 4, "SLICE": 5}[op.code]
    if op.code in ("SUB", "DIV") and rank > 4:
        return {"SUB": 3, "DIV": 2}[op.code]
    return 2 if op.code == "BROADCAST_TO" else 1


def _options(op: Op) -> tuple[int, Any]:
    s = _schema()
    name = OPTIONS.get(op.code)
    if name is None:
        if op.options:
            raise ValueError(f"{op.code} takes no options, got {op.options}")
        return 0, None
    options = getattr(s, f"{name}T")()
    for key, value in op.options.items():
        if not hasattr(options, key):
            raise ValueError(f"{op.code}: {name} has no field {key!r}")
        if key == "fusedActivationFunction":
            value = getattr(s.ActivationFunctionType, value)
        elif key == "padding":
            value = getattr(s.Padding, value)
        elif key in ("inDataType", "outDataType"):
            value = tensor_type(value)
        setattr(options, key, value)
    return getattr(s.BuiltinOptions, name), options


def _aligned_buffer(builder: Any, data: np.ndarray) -> int:
    """A Buffer table whose data vector starts on an ``ALIGNMENT``-byte boundary."""
    s = _schema()
    payload = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
    builder.StartVector(1, len(payload), ALIGNMENT)
    builder.head = builder.head - len(payload)
    builder.Bytes[builder.head : builder.head + len(payload)] = payload
    builder.vectorNumElems = len(payload)
    vector = builder.EndVector()
    s.BufferStart(builder)
    s.BufferAddData(builder, vector)
    return s.BufferEnd(builder)


class _DataBuffer:
    """A BufferT stand-in whose Pack writes aligned bytes (ModelT.Pack calls Pack on each)."""

    def __init__(self, data: np.ndarray | None) -> None:
        self.data = data

    def Pack(self, builder: Any) -> int:  # the object API's name
        if self.data is None:
            s = _schema()
            s.BufferStart(builder)
            return s.BufferEnd(builder)
        return _aligned_buffer(builder, self.data)


def serialize(graph: Graph, description: str, metadata: Mapping[str, bytes]) -> bytes:
    """The TFLite flatbuffer (schema version 3) of ``graph``: one subgraph, a signature
    "serving_default" naming its inputs and outputs, and ``metadata`` entries."""
    import flatbuffers

    s = _schema()
    buffers: list[_DataBuffer] = [_DataBuffer(None)]  # buffer 0: the empty sentinel
    index: dict[str, int] = {}
    tensors = []
    for name, t in graph.tensors.items():
        tensor = s.TensorT()
        tensor.name, tensor.shape, tensor.type = name, list(t.shape), tensor_type(t.dtype)
        if t.data is not None:
            tensor.buffer = len(buffers)
            buffers.append(_DataBuffer(t.data))
        if t.scales is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in t.scales]
            q.zeroPoint = [0] * len(t.scales)
            q.quantizedDimension = t.channel_axis
            tensor.quantization = q
        index[name] = len(tensors)
        tensors.append(tensor)

    codes: dict[tuple[str, int], int] = {}
    operators = []
    for op in graph.ops:
        key = (op.code, op_version(graph, op))
        if key not in codes:
            codes[key] = len(codes)
        operator = s.OperatorT()
        operator.opcodeIndex = codes[key]
        operator.inputs = [index[n] if n != NONE else -1 for n in op.inputs]
        operator.outputs = [index[n] for n in op.outputs]
        operator.builtinOptionsType, operator.builtinOptions = _options(op)
        operators.append(operator)
    operator_codes = []
    for code, version in codes:
        opcode = s.OperatorCodeT()
        opcode.builtinCode = getattr(s.BuiltinOperator, code)
        opcode.deprecatedBuiltinCode = min(opcode.builtinCode, s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        opcode.version = version
        operator_codes.append(opcode)

    subgraph = s.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors, subgraph.operators = tensors, operators
    subgraph.inputs = [index[n] for n in graph.inputs]
    subgraph.outputs = [index[n] for n in graph.outputs]

    signature = s.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = "serving_default", 0
    signature.inputs = [_tensor_map(s, n, index[n]) for n in graph.inputs]
    signature.outputs = [_tensor_map(s, n, index[n]) for n in graph.outputs]

    entries = []
    for name, payload in metadata.items():
        entry = s.MetadataT()
        entry.name, entry.buffer = name, len(buffers)
        buffers.append(_DataBuffer(np.frombuffer(payload, np.uint8)))
        entries.append(entry)

    model = s.ModelT()
    model.version, model.description = 3, description
    model.operatorCodes, model.subgraphs, model.buffers = operator_codes, [subgraph], buffers
    model.signatureDefs, model.metadata = [signature], entries
    size = sum(b.data.nbytes for b in buffers if b.data is not None)
    builder = flatbuffers.Builder(size + (1 << 20))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tensor_map(s: Any, name: str, tensor_index: int) -> Any:
    entry = s.TensorMapT()
    entry.name, entry.tensorIndex = name, tensor_index
    return entry


def _model(path_or_bytes: str | os.PathLike | bytes) -> Any:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()  # noqa: SIM115
    return _schema().Model.GetRootAs(data, 0)


def tflite_ops(path_or_bytes: str | os.PathLike | bytes) -> list[str]:
    """The sorted builtin operator names a .tflite file uses (read back with the schema);
    a custom operator appears as ``CUSTOM:<name>``."""
    s = _schema()
    names = {value: key for key, value in vars(s.BuiltinOperator).items() if not key.startswith("_")}
    model = _model(path_or_bytes)
    used = set()
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        for i in range(subgraph.OperatorsLength()):
            code = model.OperatorCodes(subgraph.Operators(i).OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            used.add(f"CUSTOM:{code.CustomCode().decode()}" if builtin == s.BuiltinOperator.CUSTOM else names[builtin])
    return sorted(used)


def tflite_metadata(path_or_bytes: str | os.PathLike | bytes) -> dict[str, bytes]:
    """The metadata entries of a .tflite file: name -> bytes."""
    model = _model(path_or_bytes)
    entries = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        entries[entry.Name().decode()] = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return entries
