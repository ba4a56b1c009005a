"""Whole checkpoints: identify, describe, convert ``.pth`` to safetensors, the manifest."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from samcore.config import IMAGE_ENCODER, DecoderConfig, EncoderConfig, expected_shapes, infer_config
from samcore.errors import SamcoreError, WeightsError
from samcore.weights.encoder_weights import validate_encoder
from samcore.weights.file_hash import sha256_file
from samcore.weights.pth_reader import read_pth
from samcore.weights.safetensors_io import DECODER_PREFIXES, read_header, safetensors_dtype, save_tensors, validate

#: Image-encoder key and its first dimension that tell the official models apart.
ENCODER_SIGNATURES = {
    "sam_vit_b": ("image_encoder.patch_embed.proj.weight", 768),
    "sam_vit_l": ("image_encoder.patch_embed.proj.weight", 1024),
    "sam_vit_h": ("image_encoder.patch_embed.proj.weight", 1280),
    "mobile_sam": ("image_encoder.patch_embed.seq.0.c.weight", 32),
}
PARTS = ("image_encoder", "prompt_encoder", "mask_decoder")
#: Metadata key recording the sha256 of the file a checkpoint was converted from.
SOURCE_SHA256 = "samcore.source_sha256"


def bundled_path(name: str) -> Path:
    """Path of a file shipped in ``weights/`` (installed as ``samcore.bundled``)."""
    path = Path(str(resources.files("samcore.bundled").joinpath(name)))
    if not path.is_file():
        raise WeightsError(f"bundled file {name!r} is not installed (looked in {path.parent})")
    return path


def load_manifest() -> dict[str, Any]:
    """The manifest of known official checkpoints (name, file, size, sha256, url, licence)."""
    return json.loads(bundled_path("manifest.json").read_text())


def default_weights_path() -> Path:
    """The bundled default model: a small SAM trained on synthetic shapes (docs/default-model.md)."""
    return bundled_path(load_manifest()["default"])


def random_decoder_path() -> Path:
    """The bundled decoder with seeded random weights in ViT-B's layout, for tests and benchmarks."""
    return bundled_path(load_manifest()["random_decoder"])


def identify_model(shapes: dict[str, tuple[int, ...]]) -> str | None:
    """Which official model a checkpoint's image encoder is (None if unknown or absent)."""
    for name, (key, dim) in ENCODER_SIGNATURES.items():
        if key in shapes and shapes[key][0] == dim:
            return name
    return None


def _known_checkpoint(sha256: str) -> str | None:
    return next((c["file"] for c in load_manifest()["checkpoints"] if c["sha256"] == sha256), None)


def _tensors_of(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str], dict[str, str]]:
    """(shapes, dtype names, metadata) of a safetensors or .pth file."""
    if path.suffix in (".pth", ".pt"):
        tensors = read_pth(path)
        return {k: v.shape for k, v in tensors.items()}, {k: safetensors_dtype(v) for k, v in tensors.items()}, {}
    return read_header(path)


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """What a weights file holds: sha256, size, model, parts, decoder config, parameter counts."""
    path = Path(path)
    shapes, dtypes, metadata = _tensors_of(path)
    sha256 = sha256_file(path)
    parts: dict[str, int] = {}
    for key, shape in shapes.items():
        part = next((p for p in PARTS if key.startswith(p + ".")), "other")
        parts[part] = parts.get(part, 0) + int(np.prod(shape))
    info: dict[str, Any] = {
        "file": str(path),
        "bytes": path.stat().st_size,
        "sha256": sha256,
        "known_checkpoint": _known_checkpoint(sha256) or _known_checkpoint(metadata.get(SOURCE_SHA256, "")),
        "model": identify_model(shapes),
        "parameters": sum(parts.values()),
        "parameters_by_part": parts,
        "metadata": metadata,
    }
    try:
        config = infer_config({k: v for k, v in shapes.items() if k.startswith(DECODER_PREFIXES)}, metadata)
        validate(shapes, dtypes, config)
        info["decoder_config"] = config
        info["decoder_parameters"] = sum(int(np.prod(s)) for s in expected_shapes(config).values())
    except SamcoreError as exc:
        info["decoder_error"] = str(exc)
    if "image_encoder" in parts:
        try:
            encoder_config = EncoderConfig.from_shapes({k: v for k, v in shapes.items() if k.startswith(IMAGE_ENCODER)},
                                                       metadata)
            validate_encoder(shapes, dtypes, encoder_config)
            info["encoder_config"] = encoder_config
        except SamcoreError as exc:
            info["encoder_error"] = str(exc)
    return info


def convert_checkpoint(
    source: str | os.PathLike,
    target: str | os.PathLike,
    config: DecoderConfig | None = None,
    encoder_config: EncoderConfig | None = None,
) -> None:
    """Convert a ``torch.save``'d checkpoint (Meta's SAM, MobileSAM) to safetensors, whole.

    No pickle code runs (see ``pth_reader``). The decoder part is validated; the
    file keeps the official key names and records the source's name and sha256.
    ``encoder_config`` (for a ViT image encoder whose shapes do not tell its heads or
    windows) is validated and recorded in the metadata.
    """
    tensors = read_pth(source)
    shapes = {k: v.shape for k, v in tensors.items()}
    decoder_shapes = {k: v for k, v in shapes.items() if k.startswith(DECODER_PREFIXES)}
    config = config or infer_config(decoder_shapes)
    validate(shapes, {k: safetensors_dtype(v) for k, v in tensors.items()}, config)
    metadata = config.metadata() | {
        "samcore.source_file": Path(source).name,
        SOURCE_SHA256: sha256_file(source),
    }
    if encoder_config is not None:
        validate_encoder(shapes, {k: safetensors_dtype(v) for k, v in tensors.items()}, encoder_config)
        metadata |= encoder_config.metadata()
    model = identify_model(shapes)
    if model:
        metadata["samcore.model"] = model
    save_tensors(target, tensors, metadata)

