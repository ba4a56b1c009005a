"""Peephole passes over an ``ir.Graph``: bias/ReLU fusion, NOT_EQUAL, transpose cancelling, pruning.

Every pass keeps what the graph computes (up to float rounding) and the execution order
valid. ``optimize`` runs them all; afterwards the graph holds TFLite builtins only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from samcore_tflite.ir import NONE, Graph, Op

#: Elementwise operators with one tensor input: a transpose commutes with them.
UNARY = ("GELU", "RELU", "SIN", "COS", "SQRT", "RSQRT", "LOGICAL_NOT", "CAST")
_LAYOUT = ("TRANSPOSE", "RESHAPE")
def fuse_not_equal(g: Graph) -> None:
    """LOGICAL_NOT(EQUAL(a, b)) -> NOT_EQUAL(a, b) when nothing else reads the EQUAL."""
    producers, consumers = g.producers(), g.consumers()
    for op in g.ops:
        eq = producers.get(op.inputs[0]) if op.code == "LOGICAL_NOT" else None
        if eq is not None and eq.code == "EQUAL" and len(consumers[eq.outputs[0]]) == 1:
            op.code, op.inputs = "NOT_EQUAL", list(eq.inputs)


def fuse_fully_connected(g: Graph) -> None:
    """FULLY_CONNECTED then ADD of a constant [out] -> the bias; then RELU -> fused activation."""
    changed = True
    while changed:
        changed = False
        producers, consumers = g.producers(), g.consumers()
        for op in g.ops:
            fc = next((producers.get(n) for n in op.inputs if producers.get(n) is not None
                       and producers[n].code == "FULLY_CONNECTED"), None)
            if fc is None or len(consumers[fc.outputs[0]]) != 1 or fc.outputs[0] in g.outputs:
                continue
            units = g.shape(fc.inputs[1])[0]
            if op.code == "ADD" and fc.inputs[2] == NONE and "fusedActivationFunction" not in fc.options:
                other = next(n for n in op.inputs if n != fc.outputs[0])
                if g.is_const(other) and g.data(other).size == units and g.shape(other)[-1:] == (units,) \
                        and len(g.shape(other)) <= len(g.shape(fc.outputs[0])):
                    fc.inputs[2] = g.const(g.data(other).reshape(units))
                    changed = True
            elif op.code == "RELU" and fc.options.get("fusedActivationFunction", "NONE") == "NONE":
                fc.options["fusedActivationFunction"] = "RELU"
                changed = True
            if changed:
                g.tensors[op.outputs[0]].shape = g.shape(fc.outputs[0])
                fc.outputs = list(op.outputs)
                g.ops.remove(op)
                break


def _perm(g: Graph, op: Op) -> tuple[int, ...]:
    return tuple(int(p) for p in g.data(op.inputs[1]))


def _drop_identity(g: Graph, op: Op) -> bool:
    """Remove a TRANSPOSE/RESHAPE that changes nothing; True if removed."""
    out = op.outputs[0]
    if out in g.outputs or g.shape(op.inputs[0]) != g.shape(out):
        return False
    if op.code == "TRANSPOSE" and _perm(g, op) != tuple(range(len(_perm(g, op)))):
        return False
    g.ops.remove(op)
    g.replace_uses(out, op.inputs[0])
    return True


def simplify_layout(g: Graph) -> None:
    """Transposes and reshapes: compose chains, move transposes below unary elementwise ops
    so pairs meet and cancel, turn transposes that only move size-1 axes into reshapes, and
    fold a transpose of the last two axes into BATCH_MATMUL's adjY."""
    changed = True
    while changed:
        changed = False
        producers, consumers = g.producers(), g.consumers()
        for op in list(g.ops):
            source = producers.get(op.inputs[0]) if op.inputs else None
            if op.code in ("TRANSPOSE", "RESHAPE") and _drop_identity(g, op):
                changed = True
            elif op.code == "TRANSPOSE" and source is not None and source.code == "TRANSPOSE":
                first = _perm(g, source)
                op.inputs = [source.inputs[0], g.const(np.array([first[p] for p in _perm(g, op)], np.int32))]
                changed = True
            elif op.code == "RESHAPE" and source is not None and source.code == "RESHAPE":
                op.inputs = [source.inputs[0], op.inputs[1]]
                changed = True
            elif op.code in _LAYOUT and (start := _reshape_chain_start(g, producers, consumers, op)) is not None:
                shape = g.shape(op.outputs[0])
                op.code, op.inputs, op.options = "RESHAPE", [start, g.const(np.array(shape, np.int32))], {
                    "newShape": list(shape)}
                changed = True
            elif op.code == "RESHAPE" and source is not None and source.code == "TRANSPOSE" \
                    and len(consumers[source.outputs[0]]) == 1 and source.outputs[0] not in g.outputs:
                changed = _hoist_reshape(g, source, op)
            elif op.code == "TRANSPOSE" and _moves_unit_axes_only(g.shape(op.inputs[0]), _perm(g, op)):
                shape = g.shape(op.outputs[0])
                op.code, op.inputs[1], op.options = "RESHAPE", g.const(np.array(shape, np.int32)), {
                    "newShape": list(shape)}
                changed = True
            elif op.code in UNARY and source is not None and source.code == "TRANSPOSE" \
                    and len(consumers[source.outputs[0]]) == 1 and source.outputs[0] not in g.outputs:
                _swap_with_transpose(g, source, op)
                changed = True
            elif op.code == "BATCH_MATMUL" and not op.options.get("adjY"):
                b = producers.get(op.inputs[1])
                rank = len(g.shape(op.inputs[1]))
                if b is not None and b.code == "TRANSPOSE" and _perm(g, b) == (*range(rank - 2), rank - 1, rank - 2):
                    op.inputs[1] = b.inputs[0]
                    op.options["adjY"] = True
                    changed = True
            if changed:
                g.prune()
                break


def _reshape_chain_start(g: Graph, producers: dict[str, Op], consumers: dict[str, list[Op]], op: Op) -> str | None:
    """The input of the longest chain of up to 4 TRANSPOSE/RESHAPE ending in ``op`` (inner
    results read by nothing else) that keeps the elements in order, if there is one with 2+."""
    chain, start = [op], None
    source = producers.get(op.inputs[0])
    while source is not None and source.code in _LAYOUT and len(chain) < 4 \
            and len(consumers[source.outputs[0]]) == 1 and source.outputs[0] not in g.outputs:
        chain.insert(0, source)
        if _is_reshape(g, source.inputs[0], chain):
            start = source.inputs[0]
        source = producers.get(source.inputs[0])
    return start


def _is_reshape(g: Graph, x: str, chain: list[Op]) -> bool:
    """Whether a chain of TRANSPOSE/RESHAPE from ``x`` keeps the elements in order (a reshape)."""
    index = np.arange(int(np.prod(g.shape(x)))).reshape(g.shape(x))
    for op in chain:
        index = index.transpose(_perm(g, op)) if op.code == "TRANSPOSE" else index.reshape(g.shape(op.outputs[0]))
    return bool(np.array_equal(index.ravel(), np.arange(index.size)))


def _hoist_reshape(g: Graph, transpose: Op, reshape: Op) -> bool:
    """RESHAPE(TRANSPOSE(x)) that only merges adjacent axes, each group contiguous in x ->
    TRANSPOSE(RESHAPE(x)) of lower rank: (0, 3, 1, 2) then [b, c, h*w] becomes [b, h*w, c]
    then (0, 2, 1), which BATCH_MATMUL then takes as adjY. True if rewritten."""
    x, perm = transpose.inputs[0], _perm(g, transpose)
    moved, target = g.shape(transpose.outputs[0]), g.shape(reshape.outputs[0])
    if len(target) >= len(moved):
        return False
    groups, start = [], 0
    for size in target:  # consecutive axes of the transposed shape whose sizes multiply to ``size``
        end, product = start, 1
        while end < len(moved) and (product < size or (end == start)):
            product *= moved[end]
            end += 1
        if product != size:
            return False
        groups.append(perm[start:end])
        start = end
    if start != len(moved) or any(list(grp) != list(range(grp[0], grp[0] + len(grp))) for grp in groups):
        return False
    order = sorted(range(len(groups)), key=lambda i: groups[i][0])  # groups in x's axis order
    merged = tuple(int(np.prod([g.shape(x)[a] for a in groups[i]])) for i in order)
    inner = g.add_tensor(g.fresh("reshape"), merged, g.tensors[x].dtype)
    new_perm = [order.index(i) for i in range(len(groups))]
    i, j = g.ops.index(transpose), g.ops.index(reshape)
    g.ops[i] = Op("RESHAPE", [x, g.const(np.array(merged, np.int32))], [inner], {"newShape": list(merged)})
    g.ops[j] = Op("TRANSPOSE", [inner, g.const(np.array(new_perm, np.int32))], list(reshape.outputs))
    return True


def _moves_unit_axes_only(shape: tuple[int, ...], perm: tuple[int, ...]) -> bool:
    kept = [p for p in perm if shape[p] != 1]
    return kept == sorted(kept)


def _swap_with_transpose(g: Graph, transpose: Op, unary: Op) -> None:
    """unary(TRANSPOSE(x)) -> TRANSPOSE(unary(x)), keeping the execution order valid."""
    x = transpose.inputs[0]
    inner = g.add_tensor(g.fresh(unary.code.lower()), g.shape(x), g.tensors[unary.outputs[0]].dtype)
    i, j = g.ops.index(transpose), g.ops.index(unary)
    g.ops[i] = Op(unary.code, [x, *unary.inputs[1:]], [inner], dict(unary.options))
    g.ops[j] = Op("TRANSPOSE", [inner, transpose.inputs[1]], list(unary.outputs))


PASSES: tuple[Callable[[Graph], None], ...] = (fuse_not_equal, fuse_fully_connected, simplify_layout)


def optimize(g: Graph) -> Graph:
    """Run every pass, then drop what nothing reads."""
    for run in PASSES:
        run(g)
        g.prune()
    return g
