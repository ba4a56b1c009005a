"""Building blocks of parameter layouts (official key -> shape), shared by the decoder's
and the image encoder's configs: layer shapes, and reading sizes back from shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from samcore.errors import WeightsError


def linear_shapes(key: str, out_dim: int, in_dim: int) -> dict[str, tuple[int, ...]]:
    """``key.weight`` [out, in] and ``key.bias`` [out] of a Linear layer."""
    return {f"{key}.weight": (out_dim, in_dim), f"{key}.bias": (out_dim,)}


def norm_shapes(key: str, dim: int) -> dict[str, tuple[int, ...]]:
    """``key.weight`` and ``key.bias`` [dim] of a LayerNorm."""
    return {f"{key}.weight": (dim,), f"{key}.bias": (dim,)}


def count_indices(shapes: Mapping[str, tuple[int, ...]], pattern: str) -> int:
    """How many distinct values the one group of ``pattern`` takes over the keys (layers, blocks)."""
    regex = re.compile(pattern)
    return len({m.group(1) for key in shapes if (m := regex.fullmatch(key))})


def required_shape(shapes: Mapping[str, tuple[int, ...]], key: str, part: str) -> tuple[int, ...]:
    """The shape of ``key``, or a WeightsError saying the ``part``'s config cannot be inferred."""
    if key not in shapes:
        raise WeightsError(f"cannot infer the {part} config: key {key!r} is missing")
    return tuple(shapes[key])
