"""Weights: safetensors at run time (official key names), safe ``.pth`` conversion."""

from samcore.weights.checkpoints import (
    bundled_path,
    convert_checkpoint,
    default_weights_path,
    describe,
    load_manifest,
    random_decoder_path,
)
from samcore.weights.digest import encoder_params_sha256, params_sha256
from samcore.weights.encoder_weights import encoder_params, load_encoder_params, validate_encoder
from samcore.weights.file_hash import remembered_sha256, sha256_file
from samcore.weights.pth_reader import read_pth
from samcore.weights.safetensors_io import (
    decoder_params,
    load_decoder_params,
    read_header,
    safetensors_dtype,
    save_tensors,
    validate,
)

__all__ = [
    "bundled_path",
    "convert_checkpoint",
    "decoder_params",
    "default_weights_path",
    "describe",
    "encoder_params",
    "encoder_params_sha256",
    "load_decoder_params",
    "load_encoder_params",
    "load_manifest",
    "params_sha256",
    "random_decoder_path",
    "read_header",
    "read_pth",
    "remembered_sha256",
    "safetensors_dtype",
    "save_tensors",
    "sha256_file",
    "validate",
    "validate_encoder",
]
