"""A symbolic NumPy array that records ONNX nodes, so the spec's own functions trace into a graph.

``Traced`` holds an ONNX value name, a NumPy dtype and a shape whose entries are
ints or ``Dim`` (a size known only at run time: prompts B, points N, ...). It
implements NumPy's ``__array_ufunc__`` / ``__array_function__`` protocols and the
array methods the spec calls, so ``samcore.spec`` runs on it unchanged; NumPy
arrays it meets (parameters, constants) become initializers. Spec functions marked
``@graph_hook`` reach ``__samcore_function__``, which uses the graph's emitter for the
function (``Graph(opset, emitters)``: a target's set, ``samcore.graph.emitters``), else
traces the NumPy formulation.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

#: Hooked function (as decorated by ``graph_hook``) -> emitter with the same signature.
Emitters = Mapping[Callable[..., Any], Callable[..., Any]]


def _hook(self: Traced | Dim, func: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``__samcore_function__``: the graph's emitter for ``func``, else trace the NumPy formulation."""
    emitter = self.graph.emitters.get(func)
    return emitter(*args, **kwargs) if emitter is not None else func.__wrapped__(*args, **kwargs)


class Dim:
    """A dimension known only at run time. Equal dims have equal ``expr``; the value is an
    int64 [1] tensor read from a tensor that has the dim (``source``) or computed (``recipe``)."""

    __samcore_function__ = _hook

    def __init__(
        self,
        graph: Graph,
        expr: str,
        source: tuple[str, int] | None = None,
        recipe: tuple[str, DimLike, DimLike] | None = None,
    ) -> None:
        self.graph, self.expr, self.source, self.recipe = graph, expr, source, recipe

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dim) and other.expr == self.expr

    def __hash__(self) -> int:
        return hash(self.expr)

    def __repr__(self) -> str:
        return self.expr

    def __index__(self) -> int:
        raise TypeError(f"dimension {self.expr} is symbolic: it has no value at trace time")

    def _combine(self, op: str, symbol: str, a: DimLike, b: DimLike) -> Dim:
        return Dim(self.graph, f"({_expr(a)}{symbol}{_expr(b)})", recipe=(op, a, b))

    def __add__(self, other: DimLike) -> DimLike:
        return self if isinstance(other, int) and other == 0 else self._combine("Add", "+", self, other)

    def __radd__(self, other: DimLike) -> DimLike:
        return self if isinstance(other, int) and other == 0 else self._combine("Add", "+", other, self)

    def __sub__(self, other: DimLike) -> DimLike:
        return self if isinstance(other, int) and other == 0 else self._combine("Sub", "-", self, other)

    def __mul__(self, other: DimLike) -> DimLike:
        return self if isinstance(other, int) and other == 1 else self._combine("Mul", "*", self, other)

    def __rmul__(self, other: DimLike) -> DimLike:
        return self if isinstance(other, int) and other == 1 else self._combine("Mul", "*", other, self)

    def __floordiv__(self, other: int) -> DimLike:  # sizes are non-negative: Div truncates = floors
        return self if other == 1 else self._combine("Div", "//", self, other)


DimLike = int | Dim


_END = 2**63 - 1  # Slice's "to the end"


def _expr(d: DimLike) -> str:
    return d.expr if isinstance(d, Dim) else str(d)


def _onnx_type(dtype: np.dtype | type) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Graph:
    """Nodes, initializers, inputs and outputs of one graph being traced."""

    def __init__(self, opset: int, emitters: Emitters) -> None:
        """``emitters``: the target's emitter set (``samcore.graph.emitters.ONNXRUNTIME`` or
        ``PORTABLE``)."""
        if opset < 17:
            raise ValueError(f"opset: expected >= 17 (LayerNormalization), got {opset}")
        self.opset, self.emitters = opset, emitters
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._consts: dict[tuple[str, tuple[int, ...], bytes], str] = {}
        self._dims: dict[str, str] = {}  # dim expr -> int64 [1] value
        self._shapes: dict[str, str] = {}  # shape exprs -> int64 [ndim] value
        self._counter = itertools.count()

    def fresh(self, hint: str) -> str:
        """A new unique value name."""
        return f"{hint}_{next(self._counter)}"

    def node(self, op_type: str, inputs: Sequence[str], n_outputs: int = 1, **attrs: Any) -> list[str]:
        """Append a node; returns its output names."""
        outputs = [self.fresh(op_type) for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=outputs[0], **attrs))
        return outputs

    def const(self, value: Any, dtype: np.dtype | type | None = None) -> str:
        """An initializer holding ``value`` (deduplicated by content)."""
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        key = (array.dtype.str, array.shape, hashlib.sha1(array.tobytes()).digest())
        if key not in self._consts:
            name = self.fresh("const")
            self.initializers.append(numpy_helper.from_array(array, name))
            self._consts[key] = name
        return self._consts[key]

    def value(self, x: Traced | np.ndarray | float | int | str, dtype: np.dtype | type | None = None) -> str:
        """The value name of ``x``: a Traced (cast to ``dtype`` if given), a raw name, or a constant."""
        if isinstance(x, str):
            return x
        if isinstance(x, Traced):
            return x.astype(dtype).name if dtype is not None else x.name
        return self.const(x, dtype)

    def dim_value(self, d: DimLike) -> str:
        """An int64 [1] tensor holding ``d`` at run time."""
        if isinstance(d, int):
            return self.const([d], np.int64)
        if d.expr not in self._dims:
            if d.source is not None:
                name, axis = d.source
                (out,) = self.node("Shape", [name], start=axis, end=axis + 1)
            elif d.recipe is not None:
                op, a, b = d.recipe
                (out,) = self.node(op, [self.dim_value(a), self.dim_value(b)])
            else:
                raise ValueError(f"dimension {d.expr} has no source to read it from")
            self._dims[d.expr] = out
        return self._dims[d.expr]

    def shape_value(self, dims: Sequence[DimLike]) -> str:
        """An int64 [len(dims)] tensor holding a shape."""
        if all(isinstance(d, int) for d in dims):
            return self.const(list(dims), np.int64)
        key = ",".join(_expr(d) for d in dims)
        if key not in self._shapes:
            self._shapes[key] = self.node("Concat", [self.dim_value(d) for d in dims], axis=0)[0]
        return self._shapes[key]

    def input(self, name: str, dtype: np.dtype | type, shape: Sequence[int | str]) -> Traced:
        """A graph input; str entries of ``shape`` are named run-time dims (equal names, equal sizes)."""
        dims = tuple(d if isinstance(d, int) else Dim(self, d, source=(name, i)) for i, d in enumerate(shape))
        self.inputs.append(helper.make_tensor_value_info(name, _onnx_type(dtype), list(shape)))
        return Traced(self, name, dtype, dims)

    def output(self, x: Traced, name: str) -> None:
        """Make ``x`` a graph output called ``name``."""
        self.nodes.append(helper.make_node("Identity", [x.name], [name], name=name))
        dims = [d if isinstance(d, int) else (d.expr if d.expr.isidentifier() else None) for d in x._shape]
        self.outputs.append(helper.make_tensor_value_info(name, _onnx_type(x.dtype), dims))

    def model(self, name: str, producer_version: str) -> onnx.ModelProto:
        """The traced graph as a model (opset ``self.opset``, the lowest IR version it needs)."""
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="samcore")
        model.producer_version = producer_version
        model.ir_version = helper.find_min_ir_version_for(opsets)
        return model


def _factors(d: DimLike) -> tuple[int, list[Dim]]:
    """A size as an int coefficient times run-time dims, following Mul recipes."""
    if isinstance(d, int):
        return d, []
    if d.recipe is not None and d.recipe[0] == "Mul":
        (ka, sa), (kb, sb) = _factors(d.recipe[1]), _factors(d.recipe[2])
        return ka * kb, sa + sb
    return 1, [d]


def _inferred_dim(shape: Sequence[DimLike], dims: Sequence[DimLike]) -> DimLike | None:
    """The size a reshape of ``shape`` to ``dims`` gives its -1, when it is one run-time dim
    times an int (e.g. windows (B*3*3) back to B); None when it cannot be told at trace time."""
    coefficient, symbols = 1, []
    for d in shape:
        k, syms = _factors(d)
        coefficient, symbols = coefficient * k, symbols + syms
    known = 1
    for d in dims:
        if isinstance(d, Dim) or d != -1:
            k, syms = _factors(d)
            if syms:
                return None
            known *= k
    if len(symbols) != 1 or known == 0 or coefficient % known:
        return None
    return symbols[0] * (coefficient // known)


def _broadcast(*shapes: Sequence[DimLike]) -> tuple[DimLike, ...]:
    """NumPy broadcasting of shapes with symbolic dims (a symbolic dim against n > 1 is n)."""
    ndim = max(len(s) for s in shapes)
    out: list[DimLike] = []
    for dims in zip(*[(1,) * (ndim - len(s)) + tuple(s) for s in shapes], strict=True):
        result: DimLike = 1
        for d in dims:
            if d == 1 or d == result:
                continue
            if result == 1 or (isinstance(result, Dim) and isinstance(d, int)):
                result = d
            elif not (isinstance(d, Dim) and isinstance(result, int)):
                raise ValueError(f"shapes do not broadcast: {shapes}")
        out.append(result)
    return tuple(out)


def _dummy(x: Any) -> Any:
    """A stand-in with ``x``'s NumPy promotion behaviour (Python scalars stay weak)."""
    return np.zeros(1, x.dtype) if isinstance(x, Traced | np.ndarray) else x


def _result_dtype(func: Callable[..., Any], operands: Sequence[Any], **kwargs: Any) -> np.dtype:
    with np.errstate(all="ignore"):
        result = func(*[_dummy(x) for x in operands], **kwargs)
    return result if isinstance(result, np.dtype) else np.asarray(result).dtype


_BINARY = {
    np.add: "Add", np.subtract: "Sub", np.multiply: "Mul", np.true_divide: "Div", np.matmul: "MatMul",
    np.maximum: "Max", np.minimum: "Min", np.power: "Pow", np.logical_and: "And", np.logical_or: "Or",
}
_COMPARE = {
    np.equal: "Equal", np.greater: "Greater", np.less: "Less",
    np.greater_equal: "GreaterOrEqual", np.less_equal: "LessOrEqual",
}
_UNARY = {
    np.sin: "Sin", np.cos: "Cos", np.exp: "Exp", np.log: "Log", np.sqrt: "Sqrt", np.negative: "Neg",
    np.absolute: "Abs", np.tanh: "Tanh", np.floor: "Floor", np.ceil: "Ceil", np.reciprocal: "Reciprocal",
    np.logical_not: "Not",
}


def _axes(axis: int | Sequence[int] | None, ndim: int) -> list[int]:
    if axis is None:
        return list(range(ndim))
    return sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


class Traced(np.lib.mixins.NDArrayOperatorsMixin):
    """A value in a graph being traced, used like a NumPy array."""

    __samcore_function__ = _hook

    def __init__(self, graph: Graph, name: str, dtype: np.dtype | type, shape: Sequence[DimLike]) -> None:
        self.graph, self.name, self.dtype, self._shape = graph, name, np.dtype(dtype), tuple(shape)

    def __repr__(self) -> str:
        return f"Traced({self.name}, {self.dtype}, {list(self._shape)})"

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(f"{self!r} is symbolic: it has no data at trace time")

    def __bool__(self) -> bool:
        raise TypeError(f"{self!r} is symbolic: it has no truth value at trace time")

    # --- shape -----------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[DimLike, ...]:
        """Ints and run-time dims (each readable from this tensor)."""
        return tuple(
            d if isinstance(d, int) else Dim(self.graph, d.expr, source=(self.name, i), recipe=d.recipe)
            for i, d in enumerate(self._shape)
        )

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def T(self) -> Traced:
        return self.transpose()

    def _op(self, op_type: str, inputs: Sequence[Any], dtype: Any = None, shape: Any = None, **attrs: Any) -> Traced:
        """One node on values of this graph; output dtype and shape default to this value's
        (a str entry of ``shape`` names a dim that only the output knows)."""
        g = self.graph
        (out,) = g.node(op_type, [g.value(x) for x in inputs], **attrs)
        dims = self._shape if shape is None else shape
        dims = tuple(Dim(g, d, source=(out, i)) if isinstance(d, str) else d for i, d in enumerate(dims))
        return Traced(g, out, self.dtype if dtype is None else dtype, dims)

    def copy(self, order: str = "C") -> Traced:
        """The value itself: a graph's values are immutable and have no memory layout."""
        return self

    def astype(self, dtype: Any, copy: bool = True) -> Traced:
        """Cast (no node when the dtype is already ``dtype``)."""
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else self._op("Cast", [self], dtype, to=_onnx_type(dtype))

    def reshape(self, *shape: Any, order: str = "C") -> Traced:
        """Reshape to ints and run-time dims (one -1 at most)."""
        dims = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        shape_value = self.graph.shape_value(dims)
        if -1 in [d for d in dims if isinstance(d, int)]:  # ONNX infers it; 0 then means "copy" (never here)
            known = _inferred_dim(self._shape, dims)
            inferred = tuple((known or self.graph.fresh("dim")) if isinstance(d, int) and d == -1 else d for d in dims)
            return self._op("Reshape", [self, shape_value], shape=inferred)
        return self._op("Reshape", [self, shape_value], shape=dims, allowzero=1)

    def transpose(self, *axes: Any) -> Traced:
        """Permute axes (reversed when none are given)."""
        perm = list(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple | list) else list(axes)
        perm = perm or list(range(self.ndim))[::-1]
        return self._op("Transpose", [self], shape=tuple(self._shape[p] for p in perm), perm=perm)

    def _reduce(self, op_type: str, axis: Any, keepdims: bool, axes_as_input_from: int) -> Traced:
        axes = _axes(axis, self.ndim)
        shape = tuple(1 if i in axes else d for i, d in enumerate(self._shape) if keepdims or i not in axes)
        if self.graph.opset >= axes_as_input_from:
            return self._op(op_type, [self, self.graph.const(axes, np.int64)], shape=shape, keepdims=int(keepdims))
        return self._op(op_type, [self], shape=shape, axes=axes, keepdims=int(keepdims))

    def mean(self, axis: Any = None, dtype: Any = None, out: None = None, keepdims: bool = False) -> Traced:
        return self._reduce("ReduceMean", axis, keepdims, 18).astype(dtype or self.dtype)

    def sum(self, axis: Any = None, dtype: Any = None, out: None = None, keepdims: bool = False) -> Traced:
        return self._reduce("ReduceSum", axis, keepdims, 13).astype(dtype or self.dtype)

    def max(self, axis: Any = None, out: None = None, keepdims: bool = False) -> Traced:
        return self._reduce("ReduceMax", axis, keepdims, 18)

    def __getitem__(self, key: Any) -> Traced:
        """Basic indexing (ints, slices with static bounds and positive step, ``...`` and
        ``None``), plus one list of ints on one axis when no int is in the key (a run of
        consecutive indices slices; any other list gathers)."""
        key = key if isinstance(key, tuple) else (key,)
        lists = [i for i, k in enumerate(key) if isinstance(k, list)]
        if lists:
            return self._index_list(key, lists)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            used = sum(k is not None and k is not Ellipsis for k in key)
            key = key[:i] + (slice(None),) * (self.ndim - used) + key[i + 1 :]
        key = key + (slice(None),) * (self.ndim - sum(k is not None for k in key))
        starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
        sliced = list(self._shape)
        axis = position = 0  # in the input; in the output
        for k in key:
            if k is None:
                unsqueeze.append(position)
                position += 1
                continue
            size = self._shape[axis]
            if isinstance(k, int | np.integer):
                start = int(k) + size if k < 0 and isinstance(size, int) else int(k)
                starts, ends, steps = [*starts, start], [*ends, start + 1 if start != -1 else _END], [*steps, 1]
                axes.append(axis)
                squeeze.append(axis)
                sliced[axis] = 1
            elif isinstance(k, slice):
                if k != slice(None):
                    if (k.step or 1) <= 0:
                        raise NotImplementedError(f"slice {k}: negative steps")
                    if isinstance(size, int):
                        start, stop, step = k.indices(size)
                        sliced[axis] = len(range(start, stop, step))
                    elif (k.start or 0) >= 0 and k.stop is not None and k.stop >= 0 and (k.step or 1) == 1:
                        start, stop, step = k.start or 0, k.stop, 1
                        sliced[axis] = max(stop - start, 0)  # the run-time size is assumed >= stop
                    else:
                        raise NotImplementedError(f"slice {k} of the run-time dim {size}")
                    starts, ends, axes, steps = [*starts, start], [*ends, stop], [*axes, axis], [*steps, step]
                position += 1
            else:
                raise NotImplementedError(f"indexing with {type(k).__name__}")
            axis += 1
        g, out = self.graph, self
        if axes:
            bounds = [g.const(v, np.int64) for v in (starts, ends, axes, steps)]
            out = out._op("Slice", [out, *bounds], shape=tuple(sliced))
        if squeeze:
            kept = tuple(d for a, d in enumerate(out._shape) if a not in squeeze)
            out = out._op("Squeeze", [out, g.const(squeeze, np.int64)], shape=kept)
        if unsqueeze:
            dims = list(out._shape)
            for p in unsqueeze:
                dims.insert(p, 1)
            out = out._op("Unsqueeze", [out, g.const(unsqueeze, np.int64)], shape=tuple(dims))
        return out

    def _index_list(self, key: tuple, lists: list[int]) -> Traced:
        """``self[key]`` where ``key[lists[0]]`` is a list of ints (NumPy keeps its axis in place)."""
        if len(lists) > 1 or any(isinstance(k, int | np.integer) for k in key):
            raise NotImplementedError("indexing with a list alongside ints or other lists")
        i = lists[0]
        if any(isinstance(j, bool | np.bool_) for j in key[i]):
            raise NotImplementedError("indexing with a boolean mask")
        indices = [int(j) for j in key[i]]
        if indices and indices == list(range(indices[0], indices[0] + len(indices))) and indices[0] >= 0:
            return self[(*key[:i], slice(indices[0], indices[0] + len(indices)), *key[i + 1 :])]
        out = self[(*key[:i], slice(None), *key[i + 1 :])]
        axis = sum(k is not Ellipsis for k in key[:i])  # output axes before the list's
        if any(k is Ellipsis for k in key[:i]):
            axis = out.ndim - sum(k is not Ellipsis for k in key[i:])
        shape = tuple(len(indices) if a == axis else d for a, d in enumerate(out._shape))
        return out._op("Gather", [out, self.graph.const(indices, np.int64)], shape=shape, axis=axis)

    # --- NumPy protocols -------------------------------------------------------------------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs.get("out") is not None:
            return NotImplemented
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise NotImplementedError(f"{ufunc.__name__} with {sorted(kwargs)}")
        g = self.graph
        result = _result_dtype(ufunc, inputs, **({"dtype": dtype} if dtype is not None else {}))
        if ufunc in _UNARY:
            (x,) = inputs
            return x.astype(result)._op(_UNARY[ufunc], [x.astype(result)], result)
        if ufunc is np.square:
            x = inputs[0].astype(result)
            return x._op("Mul", [x, x], result)
        a, b = inputs
        shape_a = a._shape if isinstance(a, Traced) else np.shape(a)
        shape_b = b._shape if isinstance(b, Traced) else np.shape(b)
        if ufunc in _COMPARE or ufunc is np.not_equal:
            common = _result_dtype(np.result_type, inputs)
            shape = _broadcast(shape_a, shape_b)
            out = self._op(_COMPARE.get(ufunc, "Equal"), [g.value(a, common), g.value(b, common)], np.bool_, shape)
            return out._op("Not", [out]) if ufunc is np.not_equal else out
        if ufunc not in _BINARY:
            raise NotImplementedError(f"ufunc {ufunc.__name__}")
        if ufunc is np.matmul:
            if len(shape_a) < 2 or len(shape_b) < 2:
                raise NotImplementedError("matmul of 1-D operands")
            shape = (*_broadcast(shape_a[:-2], shape_b[:-2]), shape_a[-2], shape_b[-1])
        else:
            shape = _broadcast(shape_a, shape_b)
            if ufunc is np.maximum and result.kind == "f" and not isinstance(b, Traced) and np.all(b == 0) \
                    and len(shape_b) == 0:
                return self._op("Relu", [g.value(a, result)], result, shape)
        return self._op(_BINARY[ufunc], [g.value(a, result), g.value(b, result)], result, shape)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        handler = _FUNCTIONS.get(func)
        if handler is None:
            raise NotImplementedError(f"np.{func.__name__} on traced values")
        return handler(*args, **kwargs)


def _graph_of(arrays: Sequence[Any]) -> Graph:
    return next(a.graph for a in arrays if isinstance(a, Traced))


def _traced(graph: Graph, x: Any, dtype: np.dtype) -> Traced:
    if isinstance(x, Traced):
        return x.astype(dtype)
    array = np.asarray(x, dtype)
    return Traced(graph, graph.const(array), dtype, array.shape)


def _concatenate(arrays: Sequence[Any], axis: int = 0, **kwargs: Any) -> Traced:
    g = _graph_of(arrays)
    dtype = _result_dtype(np.result_type, arrays)
    parts = [_traced(g, a, dtype) for a in arrays]
    axis %= parts[0].ndim
    total: DimLike = 0
    for p in parts:
        total = total + p._shape[axis]
    shape = tuple(total if i == axis else d for i, d in enumerate(parts[0]._shape))
    return parts[0]._op("Concat", parts, dtype, shape, axis=axis)


def _stack(arrays: Sequence[Any], axis: int = 0, **kwargs: Any) -> Traced:
    g = _graph_of(arrays)
    dtype = _result_dtype(np.result_type, arrays)
    parts = [_traced(g, a, dtype) for a in arrays]
    axis %= parts[0].ndim + 1
    return _concatenate([p[(slice(None),) * axis + (None,)] for p in parts], axis=axis)


def _broadcast_to(array: Any, shape: Sequence[DimLike], subok: bool = False) -> Traced:
    shape = tuple(shape)
    g = array.graph if isinstance(array, Traced) else next(d.graph for d in shape if isinstance(d, Dim))
    x = _traced(g, array, np.asarray(array).dtype if not isinstance(array, Traced) else array.dtype)
    return x._op("Expand", [x, g.shape_value(shape)], shape=_broadcast(x._shape, shape))


def _ones_like(a: Traced, dtype: Any = None, **kwargs: Any) -> Traced:
    dtype = np.dtype(dtype or a.dtype)
    if all(isinstance(d, int) for d in a.shape):
        return _traced(a.graph, np.ones(a.shape, dtype), dtype)
    return _broadcast_to(_traced(a.graph, np.ones((1,) * a.ndim, dtype), dtype), a.shape)


def _clip(a: Traced, a_min: Any, a_max: Any, **kwargs: Any) -> Traced:
    g = a.graph
    return a._op("Clip", [a, g.const(a_min, a.dtype), g.const(a_max, a.dtype)])


_FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.broadcast_to: _broadcast_to,
    np.ones_like: _ones_like,
    np.clip: _clip,
    np.mean: lambda a, axis=None, dtype=None, out=None, keepdims=False: a.mean(axis, dtype, keepdims=keepdims),
    np.sum: lambda a, axis=None, dtype=None, out=None, keepdims=False: a.sum(axis, dtype, keepdims=keepdims),
    np.max: lambda a, axis=None, out=None, keepdims=False: a.max(axis, keepdims=keepdims),
    np.amax: lambda a, axis=None, out=None, keepdims=False: a.max(axis, keepdims=keepdims),
    np.reshape: lambda a, shape, **kw: a.reshape(shape),
    np.transpose: lambda a, axes=None: a.transpose(*(axes or ())),
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
}
