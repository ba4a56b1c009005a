"""On-disk cache of exported graphs: one file per weights hash and export options.

``OnnxBackend`` runs the fast formulation's graphs (``export_fast_onnx``): one per-image
file per grid, one per-prompt file per grid, mask-input and ``multimask_output`` setting; ``OnnxEncoder`` runs the image
encoder's graph (``export_encoder_onnx``), one file per weights hash, frame and opset.

The folder is ``$SAMCORE_CACHE`` when set, else ``~/.cache/samcore/onnx``. A file's
name holds the weights hash, the export options, samcore's version and a fingerprint
of the exporting code (``exporter_fingerprint``). ``samcore.graph_backend`` writes them
atomically (temporary name, then rename), so concurrent processes at worst export twice.
"""

from __future__ import annotations

from pathlib import Path

import samcore
from samcore.cache import cache_dir
from samcore.config import EncoderConfig
from samcore_onnx.export import exporter_fingerprint


def cache_path(
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    interface: str,
    opset: int,
    with_mask_input: bool | None,
    multimask_output: bool | None = None,
    dtype: str = "float32",
) -> Path:
    """The cache file for one weights hash and set of export options (None: an option the
    interface does not have: ``fast_image`` has neither, only ``fast_decode`` has ``multimask_output``;
    ``dtype`` other than float32: a quantized model, ``samcore_onnx.quantize``)."""
    options = [f"opset{opset}"]
    if with_mask_input is not None:
        options.append("mask" if with_mask_input else "nomask")
    if multimask_output is not None:
        options.append("multimask" if multimask_output else "single")
    if dtype != "float32":
        options.append(dtype)
    name = (
        f"decoder-{weights_sha256}-{interface}-{grid[0]}x{grid[1]}-{'-'.join(options)}"
        f"-samcore{samcore.__version__}-{exporter_fingerprint()}.onnx"
    )
    return cache_dir("onnx") / name


def fast_cache_paths(
    weights_sha256: str,
    grid: tuple[int, int],
    *,
    opset: int,
    with_mask_input: bool,
    multimask_output: bool,
    dtype: str = "float32",
) -> tuple[Path, Path]:
    """The cache files of ``export_fast_onnx``'s two models: (per-image, per-prompt); the
    per-image model is float32 in every dtype (it runs once per image), the per-prompt one in ``dtype``."""
    return (
        cache_path(weights_sha256, grid, interface="fast_image", opset=opset, with_mask_input=None),
        cache_path(weights_sha256, grid, interface="fast_decode", opset=opset, with_mask_input=with_mask_input,
                   multimask_output=multimask_output, dtype=dtype),
    )


def encoder_cache_path(weights_sha256: str, config: EncoderConfig, *, opset: int) -> Path:
    """The cache file of one image encoder export (its weights, when large, in a ``.data`` file beside it)."""
    name = (f"encoder-{weights_sha256}-{config.img_size}-opset{opset}"
            f"-samcore{samcore.__version__}-{exporter_fingerprint()}.onnx")
    return cache_dir("onnx") / name
