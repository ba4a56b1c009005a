"""``samcore predict``: decode prompts on an image embedding."""

from __future__ import annotations

import argparse
import time

import numpy as np

from samcore.cli.arguments import numbers
from samcore.decoder import Decoder
from samcore.encoder import Encoder
from samcore.image_io import read_image
from samcore.postprocess import postprocess_masks, stability_score
from samcore.transforms import apply_boxes, apply_coords
from samcore.weights import bundled_path


def _predict(args: argparse.Namespace) -> None:
    decoder = Decoder.from_weights(args.weights, backend=args.backend, device=args.device)
    original = tuple(args.original_size) if args.original_size else None
    if args.embedding:
        embedding = np.load(args.embedding)
    else:
        example = Encoder.from_weights(args.weights, device=args.device).encode(read_image(bundled_path("example.png")))
        print(f"no --embedding given: encoded the bundled example picture ({bundled_path('example.png')})")
        embedding, original = example.features, original or example.original_size
    frame = decoder.config.frame_size(embedding.shape[-2:])
    original = original or frame
    points = [numbers(p, (2, 3)) for p in args.point]
    coords = labels = boxes = None
    if points:
        coords = apply_coords(np.array([p[:2] for p in points])[None], original, max(frame))
        labels = np.array([[int(p[2]) if len(p) == 3 else 1 for p in points]])
    if args.box:
        boxes = apply_boxes(np.array(numbers(args.box, (4,)))[None], original, max(frame))
    if coords is None and boxes is None:
        coords, labels = apply_coords(np.array([[[original[1] / 2, original[0] / 2]]]), original, max(frame)), [[1]]
        print(f"no prompt given: one foreground click at the image centre {coords[0, 0].tolist()}")
    start = time.perf_counter()
    out = decoder.predict(embedding, coords, labels, boxes, multimask_output=not args.single_mask)
    elapsed = (time.perf_counter() - start) * 1e3
    logits = postprocess_masks(out.low_res_logits, original, out.frame_size)
    stability = stability_score(logits)
    backend = f"{decoder.backend.name} ({decoder.backend.device})"
    print(f"decoded in {elapsed:.1f} ms on backend {backend}; masks at {original[0]}x{original[1]}")
    print(f"{'mask':>4}  {'predicted IoU':>13}  {'stability':>9}  {'area (px)':>10}")
    for i in range(out.iou_predictions.shape[1]):
        area = int((logits[0, i] > 0).sum())
        print(f"{i:>4}  {out.iou_predictions[0, i]:>13.4f}  {stability[0, i]:>9.4f}  {area:>10}")
    if args.out:
        np.savez_compressed(args.out, masks=logits > 0, low_res_logits=out.low_res_logits, iou=out.iou_predictions)
        print(f"wrote {args.out}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the subcommands."""
    p = sub.add_parser("predict", help="decode prompts on an image embedding (default: the example picture)")
    p.add_argument("--weights", help="safetensors decoder weights (default: the bundled default)")
    p.add_argument("--embedding", help=".npy image embedding [1, C, h, w] (default: the example picture's)")
    p.add_argument("--point", action="append", default=[], help="x,y[,label] in original pixels; repeatable")
    p.add_argument("--box", help="x0,y0,x1,y1 in original pixels")
    p.add_argument("--original-size", type=lambda t: [int(v) for v in numbers(t, (2,))], help="H,W of the image")
    p.add_argument("--single-mask", action="store_true", help="one mask instead of three")
    p.add_argument("--out", help="write masks, logits and IoU to this .npz")
    p.add_argument("--backend", default="auto", help="backend name or 'auto' (see `samcore backends`)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps, ... (default: the backend's best)")
    p.set_defaults(run=_predict)
