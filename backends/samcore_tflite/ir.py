"""A small in-memory TFLite graph: tensors with static shapes, builtin operators in order.

The lowering (``lower.py``) fills it, the passes (``rewrite.py``, ``quantize.py``) edit it
and ``writer.py`` serialises it. Tensors are named; a constant carries its data, an int8
weight its per-channel scales. Operators are TFLite builtin names ("FULLY_CONNECTED", ...)
with their options as a dict of the schema's option fields (``keepNumDims``, ...).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Placeholder name of an omitted optional operator input (written as tensor index -1).
NONE = ""


@dataclasses.dataclass
class Tensor:
    """One tensor: static shape, NumPy dtype, data when constant, int8 scales when quantized."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None = None
    scales: np.ndarray | None = None  # per-channel (axis ``channel_axis``) symmetric int8 scales
    channel_axis: int = 0


@dataclasses.dataclass
class Op:
    """One builtin operator: its name, input and output tensor names, option fields."""

    code: str
    inputs: list[str]
    outputs: list[str]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


class Graph:
    """Tensors, operators (in execution order), graph inputs and outputs."""

    def __init__(self) -> None:
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self._consts: dict[tuple[str, tuple[int, ...], bytes], str] = {}
        self._counter = itertools.count()

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet."""
        while True:
            name = f"{hint}_{next(self._counter)}"
            if name not in self.tensors:
                return name

    def add_tensor(self, name: str, shape: Sequence[int], dtype: Any, data: np.ndarray | None = None) -> str:
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), np.dtype(dtype), data)
        return name

    def input(self, name: str, shape: Sequence[int], dtype: Any) -> str:
        """A graph input."""
        self.inputs.append(self.add_tensor(name, shape, dtype))
        return name

    def const(self, value: Any, dtype: Any = None) -> str:
        """A constant tensor holding ``value`` (deduplicated by content)."""
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        key = (array.dtype.str, array.shape, hashlib.sha1(array.tobytes()).digest())
        if key not in self._consts or self._consts[key] not in self.tensors:
            self._consts[key] = self.add_tensor(self.fresh("const"), array.shape, array.dtype, array)
        return self._consts[key]

    def op(self, code: str, inputs: Sequence[str], shape: Sequence[int], dtype: Any = np.float32,
           name: str | None = None, **options: Any) -> str:
        """Append an operator with one output of ``shape`` and ``dtype``; returns the output's name."""
        out = self.add_tensor(name or self.fresh(code.lower()), shape, dtype)
        self.ops.append(Op(code, list(inputs), [out], options))
        return out

    def is_const(self, name: str) -> bool:
        return name != NONE and self.tensors[name].data is not None

    def data(self, name: str) -> np.ndarray:
        """A constant's data (raises for a run-time tensor)."""
        data = self.tensors[name].data
        if data is None:
            raise ValueError(f"tensor {name} is not a constant")
        return data

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def producers(self) -> dict[str, Op]:
        """Tensor name -> the operator writing it."""
        return {out: op for op in self.ops for out in op.outputs}

    def consumers(self) -> dict[str, list[Op]]:
        """Tensor name -> the operators reading it (graph outputs are not listed)."""
        readers: dict[str, list[Op]] = {}
        for op in self.ops:
            for name in op.inputs:
                readers.setdefault(name, []).append(op)
        return readers

    def replace_uses(self, old: str, new: str) -> None:
        """Every operator input and graph output ``old`` reads ``new`` instead."""
        for op in self.ops:
            op.inputs = [new if name == old else name for name in op.inputs]
        self.outputs = [new if name == old else name for name in self.outputs]

    def prune(self) -> None:
        """Drop operators whose outputs nobody reads, then tensors nobody uses."""
        needed = set(self.outputs)
        kept = []
        for op in reversed(self.ops):
            if any(out in needed for out in op.outputs):
                kept.append(op)
                needed.update(op.inputs)
        self.ops = kept[::-1]
        used = set(self.inputs) | set(self.outputs) | {n for op in self.ops for n in (*op.inputs, *op.outputs)}
        self.tensors = {name: t for name, t in self.tensors.items() if name in used}

    def op_names(self) -> list[str]:
        """The sorted builtin names this graph uses."""
        return sorted({op.code for op in self.ops})
