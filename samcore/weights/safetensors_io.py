"""safetensors I/O: read only the decoder's tensors, validate them, save contiguously."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from samcore.config import MASK_DECODER, PROMPT_ENCODER, DecoderConfig, expected_shapes, infer_config
from samcore.errors import CheckpointFormatError, WeightsError

DECODER_PREFIXES = (PROMPT_ENCODER, MASK_DECODER)
#: First bytes of a torch.save file: a zip archive, or a legacy pickle (protocol 2+).
TORCH_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
#: safetensors dtypes the decoder accepts; all are converted to float32.
FLOAT_DTYPES = {"F16", "F32", "F64"}


def safetensors_dtype(array: np.ndarray) -> str:
    """The safetensors name of an array's dtype (float32 -> "F32", int64 -> "I64", bool -> "BOOL")."""
    kind = {"f": "F", "i": "I", "u": "U", "b": "BOOL"}.get(array.dtype.kind, array.dtype.name)
    return kind if kind == "BOOL" else f"{kind}{array.dtype.itemsize * 8}"


def read_header(path: str | os.PathLike) -> tuple[dict[str, tuple[int, ...]], dict[str, str], dict[str, str]]:
    """(key -> shape, key -> safetensors dtype, metadata) of a file, reading no tensor data."""
    _refuse_torch_checkpoint(path)
    try:
        with safe_open(os.fspath(path), framework="np") as f:
            shapes, dtypes = {}, {}
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                view = f.get_slice(key)
                shapes[key], dtypes[key] = tuple(view.get_shape()), view.get_dtype()
            return shapes, dtypes, dict(f.metadata() or {})
    except FileNotFoundError:
        raise WeightsError(f"weights file not found: {os.fspath(path)}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointFormatError(f"{os.fspath(path)}: not a readable safetensors file ({exc})") from None


def _refuse_torch_checkpoint(path: str | os.PathLike) -> None:
    """A .pth/.pt checkpoint given where safetensors is read: say how to convert it."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return  # read_header reports a missing or unreadable file
    if head.startswith(TORCH_MAGIC):
        name = os.fspath(path)
        stem, suffix = os.path.splitext(name)
        target = stem + ("-converted" if suffix == ".safetensors" else "") + ".safetensors"
        raise CheckpointFormatError(
            f"{name}: expected a safetensors file, got a PyTorch checkpoint (torch.save); "
            f"convert it first: samcore convert {name} {target}"
        )



def check_part(
    shapes: Mapping[str, tuple[int, ...]],
    dtypes: Mapping[str, str],
    expected: Mapping[str, tuple[int, ...]],
    prefixes: tuple[str, ...],
    part: str,
) -> None:
    """Raise a WeightsError naming every missing, unexpected, mis-shaped or mis-typed key of
    one part (the keys starting with ``prefixes``); -1 in an expected shape is any size."""
    present = {k for k in shapes if k.startswith(prefixes)}
    problems = []
    if missing := sorted(expected.keys() - present):
        problems.append(f"missing keys {missing}")
    if unexpected := sorted(present - expected.keys()):
        problems.append(f"unexpected keys {unexpected}")
    for key in sorted(present & expected.keys()):
        got, want = tuple(shapes[key]), expected[key]
        if len(got) != len(want) or any(w not in (g, -1) for g, w in zip(got, want, strict=False)):
            problems.append(f"{key}: expected shape {list(want)}, got {list(got)}")
        if dtypes[key] not in FLOAT_DTYPES:
            problems.append(f"{key}: expected a float dtype ({'/'.join(sorted(FLOAT_DTYPES))}), got {dtypes[key]}")
    if problems:
        raise WeightsError(f"{part} weights do not match the config: " + "; ".join(problems))


def validate(shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str], config: DecoderConfig) -> None:
    """Raise a WeightsError naming every missing, unexpected, mis-shaped or mis-typed decoder key."""
    check_part(shapes, dtypes, expected_shapes(config), DECODER_PREFIXES, "decoder")


def decoder_params(params: Mapping[str, np.ndarray], config: DecoderConfig) -> dict[str, np.ndarray]:
    """Validate the decoder part of a parameter mapping against ``config`` (other parts'
    keys are ignored): official key -> float32 array, else a WeightsError naming every
    missing, unexpected or mis-shaped key."""
    arrays = {k: np.asarray(v) for k, v in params.items() if k.startswith(DECODER_PREFIXES)}
    validate({k: a.shape for k, a in arrays.items()}, {k: safetensors_dtype(a) for k, a in arrays.items()}, config)
    return {k: arrays[k].astype(np.float32, copy=False) for k in expected_shapes(config)}


def load_decoder_params(
    path: str | os.PathLike, config: DecoderConfig | None = None
) -> tuple[dict[str, np.ndarray], DecoderConfig]:
    """Read and validate the prompt encoder + mask decoder of a safetensors file.

    Only the decoder's tensors are read (a whole SAM checkpoint loads as fast as a
    decoder-only file). ``config`` defaults to the one inferred from the shapes and
    metadata. Returns (official key -> float32 array, config).
    """
    shapes, dtypes, metadata = read_header(path)
    if config is None:
        config = infer_config({k: v for k, v in shapes.items() if k.startswith(DECODER_PREFIXES)}, metadata)
    validate(shapes, dtypes, config)
    with safe_open(os.fspath(path), framework="np") as f:
        params = {key: f.get_tensor(key).astype(np.float32, copy=False) for key in expected_shapes(config)}
    return params, config


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> None:
    """Write tensors to safetensors, the same bytes for the same input, mode 0644 (umask applied).

    Every array is made C-contiguous first, since ``safetensors.numpy`` 0.8 writes a
    non-contiguous array scrambled without error; the header is written with sorted keys
    (safetensors orders metadata by a hash seeded per process).
    """
    contiguous = {key: np.ascontiguousarray(value) for key, value in tensors.items()}
    data = save(contiguous, metadata=dict(metadata))
    size = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the data stays 8-byte aligned, as safetensors writes it
    with open(path, "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header)
        f.write(memoryview(data)[8 + size :])
