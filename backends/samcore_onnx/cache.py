"""On-disk cache of exported graphs: one file per weights hash and export options.

The folder is ``$SAMCORE_CACHE`` when set, else ``~/.cache/samcore/onnx``. A file's
name holds the weights hash, the export options, samcore's version and a fingerprint
of the exporting code (``exporter_fingerprint``). Files are written atomically
(temporary name, then rename), so concurrent processes at worst export twice.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

import samcore
from samcore.config import DecoderConfig
from samcore_onnx.export import export_onnx, exporter_fingerprint

#: Exports this process has run (tests read it to prove a cache hit).
export_count = 0


def cache_dir() -> Path:
    """Where exported graphs live."""
    configured = os.environ.get("SAMCORE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "samcore" / "onnx"


def cache_path(
    weights_sha256: str, grid: tuple[int, int], *, interface: str, opset: int, with_mask_input: bool
) -> Path:
    """The cache file for one weights hash and set of export options."""
    mask = "mask" if with_mask_input else "nomask"
    name = (
        f"decoder-{weights_sha256}-{interface}-{grid[0]}x{grid[1]}-opset{opset}-{mask}"
        f"-samcore{samcore.__version__}-{exporter_fingerprint()}.onnx"
    )
    return cache_dir() / name


def export_to_cache(
    params: Mapping[str, np.ndarray],
    config: DecoderConfig,
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    opset: int,
    with_mask_input: bool,
) -> Path:
    """Export the samcore-interface graph into the cache (overwriting) and return its path."""
    global export_count
    path = cache_path(weights_sha256, grid, interface="samcore", opset=opset, with_mask_input=with_mask_input)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        export_onnx(params, config, tmp, interface="samcore", grid=grid, opset=opset, with_mask_input=with_mask_input)
        os.chmod(tmp, 0o644)  # mkstemp made it private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    export_count += 1
    return path
