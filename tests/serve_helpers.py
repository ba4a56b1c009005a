"""Shared by the service's tests: a small full SAM model (seeded random weights), test images, and
the Python decoder's answer to what the page shows."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from samcore.config import PRESETS
from samcore.encoder_config import EncoderConfig
from samcore.predictor import Predictor
from samcore.random_weights import random_encoder_params, random_params
from samcore.weights import save_tensors

#: A small ViT image encoder (16 x 16 grid of 256 channels) in front of the ViT-B decoder layout.
SMALL_ENCODER = EncoderConfig(img_size=256, patch_size=16, embed_dim=32, depth=2, num_heads=2, window_size=4,
                              global_attn_indexes=(1,))


def write_small_sam(path: Path, seed: int = 0) -> Path:
    """Write a full SAM checkpoint (image encoder + prompt encoder + mask decoder) with seeded
    random weights to ``path`` (safetensors, official key names) and return it."""
    decoder = PRESETS["sam_vit_b"]
    tensors = random_encoder_params(SMALL_ENCODER, seed) | random_params(decoder, seed)
    save_tensors(path, tensors, SMALL_ENCODER.metadata() | decoder.metadata())
    return path


def picture(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A uint8 [H, W, 3] picture: a bright disc and a dark square on a seeded noisy background."""
    rng = np.random.default_rng(seed)
    image = rng.integers(60, 120, (height, width, 3)).astype(np.uint8)
    y, x = np.mgrid[:height, :width]
    image[(y - height * 0.4) ** 2 + (x - width * 0.3) ** 2 < (min(height, width) * 0.25) ** 2] = (230, 200, 40)
    image[int(height * 0.55) : int(height * 0.9), int(width * 0.6) : int(width * 0.9)] = (20, 30, 160)
    return image


def encode_file(image: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """``image`` as a file in ``fmt`` (PNG, JPEG, WEBP, GIF, ...), bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_service(weights: Path, *options: str, cache: Path, timeout: float = 60.0) -> Iterator[str]:
    """``samcore serve -w weights`` as a uvicorn subprocess on 127.0.0.1; yields its base URL.

    Its output (JSON access lines) goes to ``cache / "server.log"``; ``cache`` is its $SAMCORE_CACHE."""
    port = free_port()
    log = open(cache / "server.log", "ab")  # noqa: SIM115 (closed below, after the process)
    env = {**os.environ, "SAMCORE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "import sys; from samcore.cli import main; sys.exit(main())",
               "serve", "-w", str(weights), "--host", "127.0.0.1", "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"samcore serve did not start: {(cache / 'server.log').read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def python_mask(predictor: Predictor, points: list[dict], box: list[float] | None) -> np.ndarray:
    """What Meta's single-mask ONNX model returns, from the Python decoder: the best of the
    three multimask outputs when it sees at most two points (a click and the padding point,
    or a box's corners), else the single-mask output. ``points``: {x, y, label} in image pixels."""
    coords = np.array([[p["x"], p["y"]] for p in points]) if points else None
    labels = np.array([p["label"] for p in points]) if points else None
    multimask = len(points) + (2 if box else 1) <= 2
    masks, scores, _ = predictor.predict(point_coords=coords, point_labels=labels,
                                         box=None if box is None else np.array(box), multimask_output=multimask)
    return masks[int(np.argmax(scores))]
