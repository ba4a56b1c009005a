"""Weights: safetensors at run time (official key names), safe ``.pth`` conversion."""

from samcore.weights.checkpoints import (
    bundled_path,
    convert_checkpoint,
    default_weights_path,
    describe,
    load_manifest,
    sha256_file,
)
from samcore.weights.encoder_weights import encoder_params, load_encoder_params, validate_encoder
from samcore.weights.pth_reader import read_pth
from samcore.weights.safetensors_io import load_decoder_params, read_header, safetensors_dtype, save_tensors, validate

__all__ = [
    "bundled_path",
    "convert_checkpoint",
    "default_weights_path",
    "describe",
    "encoder_params",
    "load_decoder_params",
    "load_encoder_params",
    "load_manifest",
    "read_header",
    "read_pth",
    "safetensors_dtype",
    "save_tensors",
    "sha256_file",
    "validate",
    "validate_encoder",
]
