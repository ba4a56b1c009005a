"""On-disk cache of the TFLite backend's exported files (the fast formulation's per-image and
per-prompt .tflite), in ``samcore.cache.cache_dir("tflite")``. A file's name holds the
weights hash, grid, quantization (and for the per-prompt file points, mask input and
multimask setting), samcore's version and the exporter fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import samcore
from samcore.cache import cache_dir
from samcore_tflite.export import exporter_fingerprint


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
