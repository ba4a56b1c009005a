"""The embedding service's client: an image in, an ``Embedding`` out, cached locally by content key.

>>> client = EmbeddingClient("http://127.0.0.1:8000", token=None)
>>> predictor.set_embedding(client.embed("photo.jpg"))   # then every click decodes on the device

Standard library only (``urllib``); Pillow is needed only to upload an array rather than a file.
"""

from __future__ import annotations

import io
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from samcore.cache import cache_dir, write_atomic
from samcore.content_key import content_key
from samcore.embedding import Embedding
from samcore.errors import InputError, InputTypeError, ServiceResponseError

#: File signatures of the formats the service takes, and their content types.
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
#: Longest wait honoured from a 503's Retry-After, seconds.
MAX_RETRY_AFTER = 30.0


class EmbeddingClient:
    """Client of ``samcore serve`` at ``url`` (``http://host:port``).

    ``token``: the service's bearer token; ``cache_folder``: local cache of payloads
    (None: ``$SAMCORE_CACHE`` or ``~/.cache/samcore/client``; False: no local cache);
    ``dtype``: payload dtype asked for ("float16": half the bytes, or "float32");
    ``retries``: how often a 503 (queue full) is retried after its Retry-After.
    """

    def __init__(self, url: str, token: str | None = None, cache_folder: str | os.PathLike | bool | None = None,
                 dtype: str = "float16", timeout: float = 120.0, retries: int = 8) -> None:
        if dtype not in ("float16", "float32"):
            raise InputError(f"dtype: expected 'float16' or 'float32', got {dtype!r}")
        self.url, self.token, self.dtype, self.timeout, self.retries = url.rstrip("/"), token, dtype, timeout, retries
        if cache_folder is False:
            self.cache_folder = None
        else:
            self.cache_folder = Path(cache_dir("client") if cache_folder in (None, True) else cache_folder)
        self._model: dict[str, Any] | None = None

    @property
    def model(self) -> dict[str, Any]:
        """The service's model (``GET /v1/models``): id (weights sha256), preprocessing, img_size, ..."""
        if self._model is None:
            self._model = json.loads(self._request("GET", "/v1/models"))["models"][0]
        return self._model

    def key(self, data: bytes) -> str:
        """The content key the service gives the image file ``data``."""
        return content_key(data, self.model["id"], self.model["preprocessing"])

    def embed(self, image: str | os.PathLike | bytes | np.ndarray) -> Embedding:
        """The Embedding of an image: a JPEG/PNG/WebP file (path or bytes) or uint8 [H, W, 3] RGB.

        Looks in the local cache, then asks the service for the key (``GET``), then
        uploads the image (``POST``); a payload fetched is kept in the local cache.
        """
        data, content_type = image_file(image)
        key = self.key(data)
        local = None if self.cache_folder is None else self.cache_folder / f"{key}.{self.dtype}.safetensors"
        if local is not None and local.is_file():
            return Embedding.load(local)
        query = f"?dtype={self.dtype}"
        try:
            payload = self._request("GET", f"/v1/embeddings/{key}{query}")
        except ServiceResponseError as exc:
            if exc.status != 404:
                raise
            payload = self._request("POST", f"/v1/embeddings{query}", data, {"Content-Type": content_type})
        if local is not None:
            write_atomic(local, payload)
        return Embedding.from_bytes(payload)

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> bytes:
        """The body of a 2xx answer; a 503 is retried after its Retry-After, other errors raised."""
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempt = 0
        while True:
            request = urllib.request.Request(self.url + path, body, headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                if exc.code != 503 or attempt >= self.retries:
                    raise _error(method, path, exc) from None
                attempt += 1
                time.sleep(min(float(exc.headers.get("Retry-After") or 1), MAX_RETRY_AFTER))
            except urllib.error.URLError as exc:
                raise ServiceResponseError(f"{method} {self.url}{path}: the service cannot be reached "
                                           f"({exc.reason})") from None


def image_file(image: str | os.PathLike | bytes | np.ndarray) -> tuple[bytes, str]:
    """(file bytes, content type) of an image given as a path, file bytes or uint8 [H, W, 3] RGB array."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(f"image: expected a uint8 array [H, W, 3], got {image.dtype} {list(image.shape)}")
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "PNG")
        return buffer.getvalue(), "image/png"
    if isinstance(image, (str, os.PathLike)):
        try:
            data = Path(image).read_bytes()
        except FileNotFoundError:
            raise InputError(f"image: expected an image file, got {os.fspath(image)!r}: no such file") from None
    elif isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    else:
        raise InputTypeError(f"image: expected a path, file bytes or a uint8 array, got {type(image).__name__}")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return data, "image/webp"
    for signature, content_type in SIGNATURES:
        if data.startswith(signature):
            return data, content_type
    raise InputError(f"image: expected a JPEG, PNG or WebP file, got {len(data)} bytes starting {data[:8]!r}")


def _error(method: str, path: str, exc: urllib.error.HTTPError) -> ServiceResponseError:
    try:
        body = json.loads(exc.read())
        code, message = body.get("error"), body.get("message")
    except (ValueError, AttributeError):
        code, message = None, exc.reason
    return ServiceResponseError(f"{method} {path}: {exc.code} {message}", exc.code, code)
