"""``samcore predict``: decode prompts on an image embedding."""

from __future__ import annotations

import argparse
import time
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np

from samcore.cli.arguments import box, image_size, input_file, output_file, point
from samcore.cli.errors import UsageError
from samcore.cli.outputs import write_prediction
from samcore.decoder import Decoder
from samcore.encoder import Encoder
from samcore.image_io import read_image
from samcore.postprocess import postprocess_masks, stability_score
from samcore.registry import ENTRY_POINT_GROUP, list_backends
from samcore.transforms import apply_boxes, apply_coords
from samcore.weights import bundled_path, default_weights_path, load_decoder_params


def load_embedding(path: Path, embed_dim: int) -> np.ndarray:
    """The float array [1, C, h, w] or [C, h, w] in a .npy file, C = ``embed_dim``."""
    expected = f"a .npy file holding a float array [1, {embed_dim}, h, w] (SAM's image embedding)"
    fix = "save the image encoder's output with numpy.save, for weights of the same embed_dim"
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):  # numpy's messages give Python advice; say what the file is not
        raise UsageError("--embedding", expected, f"{str(path)!r}, which is not a readable .npy array", fix) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f" or array.ndim not in (3, 4) \
            or array.shape[-3] != embed_dim or (array.ndim == 4 and array.shape[0] != 1):
        got = f"{array.dtype} {list(array.shape)} in {str(path)!r}"
        raise UsageError("--embedding", expected, got, fix)
    if not np.isfinite(array).all():
        raise UsageError("--embedding", "finite values", f"NaN or infinity in {str(path)!r}", fix)
    return array


def _inside(option: str, text: str, xy: tuple[float, float], size: tuple[int, int]) -> None:
    """A point (x, y) in original pixels lies in the image of ``size`` (H, W)."""
    h, w = size
    if not (0 <= xy[0] <= w and 0 <= xy[1] <= h):
        raise UsageError(option, f"x in 0..{w} and y in 0..{h} (pixels of the {h}x{w} image, --original-size H,W)",
                         repr(text), "give a point inside the image, or the image's size with --original-size H,W")


def _check_prompts(args: argparse.Namespace, original: tuple[int, int]) -> None:
    """--point and --box lie in the image of ``original`` size (H, W)."""
    for p in args.point:
        _inside("--point", p.text, (p.x, p.y), original)
    if args.box:
        for corner in (args.box[:2], args.box[2:]):
            _inside("--box", ",".join(f"{v:g}" for v in args.box), corner, original)


def _prompts(args: argparse.Namespace, original: tuple[int, int], long_side: int) -> tuple:
    """(coords [1, N, 2], labels [1, N], boxes [1, 4]) in the input frame, from --point and --box
    (checked by ``_check_prompts``)."""
    coords = labels = boxes = None
    if args.point:
        coords = apply_coords(np.array([[(p.x, p.y) for p in args.point]]), original, long_side)
        labels = np.array([[p.label for p in args.point]])
    if args.box:
        boxes = apply_boxes(np.array([args.box]), original, long_side)
    if coords is None and boxes is None:
        coords, labels = apply_coords(np.array([[[original[1] / 2, original[0] / 2]]]), original, long_side), [[1]]
        print(f"no prompt given: one foreground click at the image centre {coords[0, 0].tolist()}")
    return coords, labels, boxes


def _check_backend_name(name: str) -> None:
    """``--backend``: ``auto`` or a registered name or alias (plugins are loaded only to look
    up a name that is not an entry point's)."""
    if name == "auto" or name in {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}:
        return
    names = {"auto"} | {n for row in list_backends() for n in (row.name, *row.aliases)}
    if name not in names:
        raise UsageError("--backend", f"auto or a registered backend: {', '.join(sorted(names))}", repr(name),
                         "pick one of them (samcore backends lists what runs here)")


def _predict(args: argparse.Namespace) -> None:
    """Check every option, then build the decoder (exporting graphs can take seconds) and decode."""
    _check_backend_name(args.backend)
    params, config = load_decoder_params(args.weights or default_weights_path())
    c = config.embed_dim
    if args.embedding:
        embedding = load_embedding(args.embedding, c)
        original = args.original_size or config.frame_size(embedding.shape[-2:])
        _check_prompts(args, original)
    else:
        picture = bundled_path("example.png")
        image = read_image(picture)
        original = args.original_size or image.shape[:2]
        _check_prompts(args, original)  # before encoding, which may export graphs
        example = Encoder.from_weights(args.weights, device=args.device).encode(image)
        print(f"no --embedding given: encoded the bundled example picture ({picture})")
        embedding = example.features
        original = args.original_size or example.original_size
    frame = config.frame_size(embedding.shape[-2:])
    coords, labels, boxes = _prompts(args, original, max(frame))
    decoder = Decoder(params, config, backend=args.backend, device=args.device)
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
        what = write_prediction(args.out, out, logits > 0)
        print(f"wrote {args.out}: {what}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the subcommands."""
    p = sub.add_parser("predict", help="decode prompts on an image embedding (default: the example picture's)")
    p.add_argument("--weights", type=input_file(".safetensors"),
                   help="safetensors decoder weights (default: the bundled default model)")
    p.add_argument("--embedding", type=input_file(".npy"),
                   help=".npy image embedding [1, C, h, w] from SAM's image encoder (default: the example picture's)")
    p.add_argument("--point", type=point, action="append", default=[], metavar="X,Y[,LABEL]",
                   help="a click in original pixels, label 1 foreground (default) or 0 background; repeatable")
    p.add_argument("--box", type=box, metavar="X0,Y0,X1,Y1", help="a box in original pixels, top-left corner first")
    p.add_argument("--original-size", type=image_size, metavar="H,W",
                   help="height and width of the image in pixels (default: the example picture's, or the input frame)")
    p.add_argument("--single-mask", action="store_true", help="one mask instead of three")
    p.add_argument("--out", type=output_file(".png", ".npz"),
                   help=".png: the best mask as an image; .npz: masks, low_res_logits and iou_predictions")
    p.add_argument("--backend", default="auto", help="backend name or auto (see: samcore backends)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps, ... (default: the backend's best)")
    p.set_defaults(run=_predict)

