"""Size of the embedding payload on the wire: float32 vs float16 vs compressed, on real embeddings.

Encodes pictures with the ViT-B image encoder (seeded random weights, or ``--weights``) through
``samcore.Encoder``, then measures ``Embedding.to_bytes`` for float32 and float16 and both
compressed with gzip (what a reverse proxy's ``gzip on`` would send) and LZMA, with the time
to compress and decompress and float16's rounding error. Prints a table, writes JSON.

    python benchmarks/embedding_payload.py [--weights sam_vit_b.safetensors] [--json benchmarks/results/payload.json]
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import pathlib
import tempfile
import time

import numpy as np
from service import random_sam, write_json

from samcore.embedding import Embedding
from samcore.encoder import Encoder


def picture(seed: int, height: int = 768, width: int = 1024) -> np.ndarray:
    """A uint8 [H, W, 3] picture: smooth colour gradients, shapes and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width] / max(height, width)
    image = np.stack([120 + 100 * np.sin(6 * x + seed), 120 + 100 * np.cos(5 * y), 100 + 80 * x * y], -1)
    for _ in range(6):
        cy, cx, r = rng.random() * height, rng.random() * width, 40 + rng.random() * 150
        yy, xx = np.mgrid[:height, :width]
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.integers(0, 256, 3)
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, (time.perf_counter() - start) * 1e3


def measure(embedding: Embedding) -> list[dict]:
    """One row per wire format: bytes, compress/decompress ms."""
    rows = []
    for dtype in ("float32", "float16"):
        data = embedding.to_bytes(dtype)
        rows.append({"format": dtype, "bytes": len(data), "compress_ms": 0.0, "decompress_ms": 0.0})
        for name, compress, decompress in (("gzip-6", lambda d: gzip.compress(d, 6), gzip.decompress),
                                           ("lzma", lzma.compress, lzma.decompress)):
            packed, compress_ms = timed(compress, data)
            _, decompress_ms = timed(decompress, packed)
            rows.append({"format": f"{dtype} + {name}", "bytes": len(packed), "compress_ms": compress_ms,
                         "decompress_ms": decompress_ms})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=pathlib.Path, help="whole SAM safetensors (default: random ViT-B)")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/payload.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights or random_sam(pathlib.Path(tmp), "sam_vit_b")
        encoder = Encoder.from_weights(weights)
        results = []
        for seed in range(args.images):
            embedding, encode_ms = timed(encoder.encode, picture(seed))
            half = Embedding.from_bytes(embedding.to_bytes("float16")).features
            rms = float(np.sqrt(np.mean(embedding.features**2)))
            error = float(np.abs(half - embedding.features).max() / rms)
            results.append({"seed": seed, "encode_ms": encode_ms, "encoder_backend": encoder.backend.name,
                            "shape": list(embedding.features.shape), "float16_max_error_over_rms": error,
                            "formats": measure(embedding)})
    print(f"embedding {results[0]['shape']}, {results[0]['encoder_backend']} encoder "
          f"{np.median([r['encode_ms'] for r in results]) / 1e3:.1f} s per image")
    print(f"{'format':<18} {'bytes':>10} {'of float32':>10} {'compress ms':>11} {'decompress ms':>13}")
    base = results[0]["formats"][0]["bytes"]
    for i, row in enumerate(results[0]["formats"]):
        size = np.median([r["formats"][i]["bytes"] for r in results])
        compress = np.median([r["formats"][i]["compress_ms"] for r in results])
        decompress = np.median([r["formats"][i]["decompress_ms"] for r in results])
        print(f"{row['format']:<18} {size:>10.0f} {size / base:>10.2f} {compress:>11.1f} {decompress:>13.1f}")
    print(f"float16 rounding: max |error| / RMS = {max(r['float16_max_error_over_rms'] for r in results):.2e}")
    write_json(args.json, {"weights": str(args.weights or "random sam_vit_b"), "images": results})


if __name__ == "__main__":
    main()
