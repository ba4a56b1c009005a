"""Embedding: an image's encoder output and the sizes the decoder needs, as one payload.

What a server sends a device: the features (float32 or float16 on the wire), the
original image size (to scale prompts and masks) and the resized image's size in
the square frame (to crop the padding), in a safetensors file or bytes.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from samcore.errors import InputError, InputTypeError

FEATURES_KEY = "features"
#: Metadata key of the sizes and model id.
METADATA_KEY = "samcore.embedding"
WIRE_DTYPES = {"float32": np.float32, "float16": np.float16}


@dataclasses.dataclass(frozen=True)
class Embedding:
    """An image embedding: ``features`` float32 [1, C, h, w] (SAM: [1, 256, 64, 64]),
    ``original_size`` (H, W) of the image in pixels, ``input_size`` (h, w) of the resized
    image inside the encoder's square frame, ``model_id`` the sha256 of the weights file
    that made it ("" when unknown)."""

    features: np.ndarray
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    model_id: str = ""

    def __post_init__(self) -> None:
        features = np.asarray(self.features)
        if features.dtype.kind != "f":
            raise InputTypeError(f"features: expected a float array, got dtype {features.dtype}")
        if features.ndim != 4 or features.shape[0] != 1:
            raise InputError(f"features: expected shape [1, C, h, w], got {list(features.shape)}")
        for name in ("original_size", "input_size"):
            size = tuple(int(v) for v in getattr(self, name))
            if len(size) != 2 or min(size) <= 0:
                raise InputError(f"{name}: expected two positive ints (H, W), got {getattr(self, name)!r}")
            object.__setattr__(self, name, size)
        object.__setattr__(self, "features", features.astype(np.float32, copy=False))

    def to_bytes(self, dtype: str = "float16") -> bytes:
        """The embedding as safetensors bytes, features stored as ``dtype`` ("float32" or
        "float16": half the size, ~1e-3 relative rounding)."""
        return save({FEATURES_KEY: np.ascontiguousarray(self.features.astype(_wire_dtype(dtype)))},
                    metadata=self._metadata())

    @classmethod
    def from_bytes(cls, data: bytes) -> Embedding:
        """Read bytes written by `to_bytes` (features back to float32)."""
        try:
            tensors = load(bytes(data))
            sizes = json.loads(_read_metadata(data)[METADATA_KEY])
            features, original_size, input_size = tensors[FEATURES_KEY], sizes["original_size"], sizes["input_size"]
        except (SafetensorError, ValueError, KeyError) as exc:
            raise InputError(f"data: expected a samcore embedding (safetensors with {FEATURES_KEY!r} and metadata "
                             f"{METADATA_KEY!r}), got unreadable bytes ({exc!r})") from None
        return cls(features, original_size, input_size, sizes.get("model_id", ""))

    def save(self, path: str | os.PathLike, dtype: str = "float32") -> None:
        """Write the embedding to a safetensors file (see `to_bytes` for ``dtype``)."""
        with open(path, "wb") as f:
            f.write(self.to_bytes(dtype))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Embedding:
        """Read a file written by `save`."""
        with open(path, "rb") as f:
            data = f.read()
        try:
            return cls.from_bytes(data)
        except InputError as exc:
            raise InputError(f"{os.fspath(path)}: {exc}") from None

    def _metadata(self) -> dict[str, str]:
        sizes = {"original_size": self.original_size, "input_size": self.input_size, "model_id": self.model_id}
        return {METADATA_KEY: json.dumps(sizes)}


def _wire_dtype(dtype: str) -> type:
    if dtype not in WIRE_DTYPES:
        raise InputError(f"dtype: expected one of {sorted(WIRE_DTYPES)}, got {dtype!r}")
    return WIRE_DTYPES[dtype]


def _read_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes (8-byte little-endian header length, JSON header)."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    return dict(header.get("__metadata__") or {})
