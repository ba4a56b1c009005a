"""On-disk cache of the TFLite backend's exported files (the fast formulation's per-image and
per-prompt .tflite), in ``samcore.cache.cache_dir("tflite")``. A file's name holds the
weights hash, grid, quantization (and for the per-prompt file points, mask input and
multimask setting), samcore's version and the exporter fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

import samcore
from samcore.cache import cache_dir, write_atomic
from samcore.config import DecoderConfig
from samcore_tflite.export import exporter_fingerprint, fast_tflite_models

#: Exports this process has run (tests read it to prove a cache hit).
export_count = 0


def fast_cache_paths(
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    points: int,
    quantize: str | None,
    with_mask_input: bool,
    multimask_output: bool,
) -> tuple[Path, Path]:
    """The cache files of the fast formulation: (per image, per prompt); the per-image file
    depends on the weights, grid and quantization only."""
    common = f"{quantize or 'float32'}-samcore{samcore.__version__}-{exporter_fingerprint()}.tflite"
    size = f"{grid[0]}x{grid[1]}"
    mask = "mask" if with_mask_input else "nomask"
    multi = "multi" if multimask_output else "single"
    return (
        cache_dir("tflite") / f"fast-image-{weights_sha256}-{size}-{common}",
        cache_dir("tflite") / f"fast-prompt-{weights_sha256}-{size}-{points}pts-{mask}-{multi}-{common}",
    )


def export_fast_to_cache(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    points: int,
    quantize: str | None,
    with_mask_input: bool,
    multimask_output: bool,
) -> tuple[Path, Path]:
    """Export the fast formulation's two files into the cache (overwriting); their paths."""
    global export_count
    paths = fast_cache_paths(weights_sha256, grid, points=points, quantize=quantize,
                             with_mask_input=with_mask_input, multimask_output=multimask_output)
    models = fast_tflite_models(params, config, points=points, quantize=quantize, grid=grid,
                                with_mask_input=with_mask_input, multimask_output=multimask_output)
    for path, data in zip(paths, models, strict=True):
        write_atomic(path, data)
    export_count += 1
    return paths
