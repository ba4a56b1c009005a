"""``samcore encode``: a picture to its image embedding (an `Embedding` safetensors file)."""

from __future__ import annotations

import argparse
import sys
import time

from samcore.encoder import Encoder
from samcore.image_io import read_image


def progress_printer(label: str):
    """A per-block callback printing ``label: block i/n`` on one stderr line (slow CPU encodes),
    redrawn after each block in a terminal; to a file or pipe, only the last block's line."""
    start = time.perf_counter()
    redraw = sys.stderr.isatty()

    def on_block(done: int, total: int) -> None:
        if done != total and not redraw:
            return
        elapsed = time.perf_counter() - start
        end = "\n" if done == total else ""
        print(f"\r{label}: block {done}/{total}, {elapsed:.1f} s", end=end, file=sys.stderr, flush=True)

    return on_block


def encode_picture(args: argparse.Namespace):
    """(picture uint8 [H, W, 3], Embedding) of ``args.image`` with ``args.weights`` on ``args.backend``."""
    image = read_image(args.image)
    encoder = Encoder.from_weights(args.weights, backend=args.backend, device=args.device)
    start = time.perf_counter()
    embedding = encoder.encode(image, on_block=None if args.quiet else progress_printer("encoding"))
    print(f"encoded {args.image} ({image.shape[1]}x{image.shape[0]}) in {time.perf_counter() - start:.1f} s "
          f"on encoder backend {encoder.backend.name} ({encoder.backend.device})")
    return image, embedding


def _encode(args: argparse.Namespace) -> None:
    _, embedding = encode_picture(args)
    embedding.save(args.out, dtype=args.dtype)
    print(f"wrote {args.out}: features {list(embedding.features.shape)} as {args.dtype}, "
          f"original size {embedding.original_size}, input size {embedding.input_size}")


def add_encoder_arguments(p: argparse.ArgumentParser) -> None:
    """IMAGE, --weights, --backend, --device and --quiet, shared by ``encode`` and ``segment``."""
    p.add_argument("image", help="picture file (JPEG, PNG, WebP, ...)")
    p.add_argument("-w", "--weights", help="safetensors SAM weights with the image encoder (default: the bundled "
                   "default model, trained on synthetic shapes)")
    p.add_argument("--backend", default="auto", help="encoder backend name or 'auto' (see: samcore backends)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps, ... (default: the backend's best)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``encode`` to the subcommands."""
    p = sub.add_parser("encode", help="encode a picture to its image embedding (safetensors)")
    add_encoder_arguments(p)
    p.add_argument("-o", "--out", required=True, help="embedding file to write (.safetensors)")
    p.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="stored precision")
    p.set_defaults(run=_encode)
