"""Content addressing of image embeddings: one key per (image bytes, model, preprocessing).

The service returns the key as the ETag and serves ``GET /v1/embeddings/{key}``; the
client computes the same key to look in its local cache before it uploads anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

#: The modules whose code turns image bytes into the encoder's input: decoding, EXIF
#: orientation, resizing, normalisation. An edit to any of them changes every key.
PREPROCESSING_MODULES = ("samcore.serve.images", "samcore.image_io", "samcore.spec.preprocess")


@cache
def preprocessing_version() -> str:
    """Short sha256 of the preprocessing modules' source (see ``PREPROCESSING_MODULES``)."""
    digest = hashlib.sha256()
    for name in PREPROCESSING_MODULES:
        digest.update(name.encode() + b"\0" + Path(importlib.util.find_spec(name).origin).read_bytes())
    return digest.hexdigest()[:16]


def content_key(image: bytes, model_sha256: str, preprocessing: str) -> str:
    """Hex sha256 of the image file's bytes, the model's sha256 and the preprocessing version."""
    digest = hashlib.sha256(image)
    digest.update(b"\0" + model_sha256.encode() + b"\0" + preprocessing.encode())
    return digest.hexdigest()
