"""``samcore segment``: a picture and prompts to a mask PNG (and a picture of it over the image)."""

from __future__ import annotations

import argparse

import numpy as np

from samcore.cli.arguments import numbers
from samcore.cli.encode import add_encoder_arguments, encode_picture
from samcore.decoder import Decoder
from samcore.image_io import overlay, write_image, write_mask
from samcore.predictor import Predictor


def _point(text: str) -> list[float]:
    """``"x,y[,label]"`` -> [x, y, label], label 1 (foreground) when not given."""
    values = numbers(text, (2, 3))
    return [*values[:2], values[2] if len(values) == 3 else 1]


def _segment(args: argparse.Namespace) -> None:
    points = np.array([_point(p) for p in args.point]).reshape(-1, 3)
    box = np.array(numbers(args.box, (4,))) if args.box else None
    image, embedding = encode_picture(args)
    predictor = Predictor(Decoder.from_weights(args.weights, backend=args.decoder_backend, device=args.device))
    predictor.set_embedding(embedding)
    if not len(points) and box is None:
        h, w = embedding.original_size
        points = np.array([[w / 2, h / 2, 1]])
        print(f"no prompt given: one foreground click at the image centre ({w / 2:g}, {h / 2:g})")
    coords, labels = (points[:, :2], points[:, 2].astype(np.int64)) if len(points) else (None, None)
    masks, scores, _ = predictor.predict(coords, labels, box, multimask_output=not args.single_mask)
    best = int(np.argmax(scores))
    for i, score in enumerate(scores):
        print(f"mask {i}: predicted IoU {score:.4f}, area {int(masks[i].sum())} px" + (" (best)" if i == best else ""))
    write_mask(args.out, masks[best])
    print(f"wrote {args.out}: mask {best} ({masks.shape[2]}x{masks.shape[1]})")
    if args.overlay:
        write_image(args.overlay, overlay(image, masks[best], points if len(points) else None, box))
        print(f"wrote {args.overlay}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segment`` to the subcommands."""
    p = sub.add_parser("segment", help="segment a picture from clicks and/or a box: mask PNG and overlay")
    add_encoder_arguments(p)
    p.add_argument("--point", action="append", default=[], help="x,y[,label] in image pixels (label 1 "
                   "foreground, default; 0 background); repeatable")
    p.add_argument("--box", help="x0,y0,x1,y1 in image pixels")
    p.add_argument("-o", "--out", required=True, help="mask PNG to write (the best-scoring mask)")
    p.add_argument("--overlay", help="also write the picture with the mask and prompts drawn over it")
    p.add_argument("--single-mask", action="store_true", help="one mask instead of the best of three")
    p.add_argument("--decoder-backend", default="auto", help="decoder backend name or 'auto'")
    p.set_defaults(run=_segment)
