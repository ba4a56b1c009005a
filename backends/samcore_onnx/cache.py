"""On-disk cache of exported graphs: one file per weights hash and export options.

``OnnxBackend`` runs the fast formulation's graphs (``export_fast_onnx``): one per-image
file per grid, one per-prompt file per grid, mask-input and ``multimask_output`` setting.

The folder is ``$SAMCORE_CACHE`` when set, else ``~/.cache/samcore/onnx``. A file's
name holds the weights hash, the export options, samcore's version and a fingerprint
of the exporting code (``exporter_fingerprint``). Files are written atomically
(temporary name, then rename), so concurrent processes at worst export twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import samcore
from samcore.cache import cache_dir, write_atomic
from samcore.config import DecoderConfig
from samcore_onnx.export import export_fast_onnx, exporter_fingerprint

if TYPE_CHECKING:
    pass

#: Exports this process has run (tests read it to prove a cache hit).
export_count = 0


def cache_path(
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    interface: str,
    opset: int,
    with_mask_input: bool | None,
    multimask_output: bool | None = None,
) -> Path:
    """The cache file for one weights hash and set of export options (None: an option the
    interface does not have: ``fast_image`` has neither, only ``fast_decode`` has ``multimask_output``)."""
    options = [f"opset{opset}"]
    if with_mask_input is not None:
        options.append("mask" if with_mask_input else "nomask")
    if multimask_output is not None:
        options.append("multimask" if multimask_output else "single")
    name = (
        f"decoder-{weights_sha256}-{interface}-{grid[0]}x{grid[1]}-{'-'.join(options)}"
        f"-samcore{samcore.__version__}-{exporter_fingerprint()}.onnx"
    )
    return cache_dir("onnx") / name


def fast_cache_paths(
    weights_sha256: str, grid: tuple[int, int], *, opset: int, with_mask_input: bool, multimask_output: bool
) -> tuple[Path, Path]:
    """The cache files of ``export_fast_onnx``'s two models: (per-image, per-prompt)."""
    return (
        cache_path(weights_sha256, grid, interface="fast_image", opset=opset, with_mask_input=None),
        cache_path(weights_sha256, grid, interface="fast_decode", opset=opset, with_mask_input=with_mask_input,
                   multimask_output=multimask_output),
    )


def export_fast_to_cache(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    opset: int,
    with_mask_input: bool,
    multimask_output: bool,
) -> tuple[Path, Path]:
    """Export the fast formulation's two models into the cache (overwriting) and return their paths."""
    global export_count
    paths = fast_cache_paths(weights_sha256, grid, opset=opset, with_mask_input=with_mask_input,
                             multimask_output=multimask_output)
    models = export_fast_onnx(params, config, grid=grid, opset=opset, with_mask_input=with_mask_input,
                              multimask_output=multimask_output)
    for model, path in zip(models, paths, strict=True):
        write_atomic(path, model.SerializeToString())
    export_count += 1
    return paths
