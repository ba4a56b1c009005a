"""The ``samcore`` command: predict, backends, export, convert, info, random-weights."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from collections.abc import Sequence

import numpy as np

from samcore.config import PRESETS
from samcore.decoder import Decoder
from samcore.errors import SamcoreError
from samcore.postprocess import postprocess_masks, stability_score
from samcore.random_weights import random_params
from samcore.registry import list_backends
from samcore.transforms import apply_boxes, apply_coords
from samcore.weights import convert_checkpoint, describe, load_decoder_params, save_tensors


def _numbers(text: str, count: tuple[int, ...]) -> list[float]:
    values = [float(v) for v in text.split(",")]
    if len(values) not in count:
        wanted = " or ".join(map(str, count))
        raise argparse.ArgumentTypeError(f"expected {wanted} comma-separated numbers, got {text!r}")
    return values


def _predict(args: argparse.Namespace) -> None:
    decoder = Decoder.from_weights(args.weights, backend=args.backend, device=args.device)
    c = decoder.config.embed_dim
    if args.embedding:
        embedding = np.load(args.embedding)
    else:
        print(f"no --embedding given: using a seeded random embedding [1, {c}, 64, 64]")
        embedding = np.random.default_rng(0).standard_normal((1, c, 64, 64), dtype=np.float32)
    frame = decoder.config.frame_size(embedding.shape[-2:])
    original = tuple(args.original_size) if args.original_size else frame
    points = [_numbers(p, (2, 3)) for p in args.point]
    coords = labels = boxes = None
    if points:
        coords = apply_coords(np.array([p[:2] for p in points])[None], original, max(frame))
        labels = np.array([[int(p[2]) if len(p) == 3 else 1 for p in points]])
    if args.box:
        boxes = apply_boxes(np.array(_numbers(args.box, (4,)))[None], original, max(frame))
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


def _backends(args: argparse.Namespace) -> None:
    rows = [("backend", "runtime", "status", "devices", "dtypes")]
    for row in list_backends():
        a = row.availability
        name = row.name + (f" ({', '.join(row.aliases)})" if row.aliases else "")
        status = "available" if a.available else f"unavailable: {a.reason}"
        rows.append((name, a.version or "-", status, ",".join(a.devices) or "-", ",".join(row.dtypes) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])


def _info(args: argparse.Namespace) -> None:
    info = describe(args.file)
    if "decoder_config" in info:
        info["decoder_config"] = vars(info["decoder_config"])
    print(json.dumps(info, indent=2, default=str))


def _convert(args: argparse.Namespace) -> None:
    convert_checkpoint(args.source, args.target)
    info = describe(args.target)
    print(f"wrote {args.target}: {info['parameters']:,} parameters, sha256 {info['sha256']}")
    print(f"model: {info['model'] or 'unknown'}; decoder parameters: {info.get('decoder_parameters', 0):,}")


def _export(args: argparse.Namespace) -> None:
    """Export graphs traced from the spec; the backends' packages are imported only here."""
    params, config = load_decoder_params(args.weights)
    grid = (args.grid, args.grid)
    if args.format == "onnx":
        from samcore_onnx import export_onnx

        model = export_onnx(params, config, args.output, interface=args.interface, grid=grid, opset=args.opset,
                            return_single_mask=args.single_mask, with_mask_input=not args.no_mask_input)
        ops = sorted({node.op_type for node in model.graph.node})
    else:
        from samcore_tflite import export_tflite

        ops = export_tflite(params, config, args.output, points=args.points, quantize=args.quantize, grid=grid,
                            with_mask_input=not args.no_mask_input)
    size = pathlib.Path(args.output).stat().st_size
    print(f"wrote {args.output}: {size / 1e6:.2f} MB, {len(ops)} op types: {', '.join(ops)}")


def _random_weights(args: argparse.Namespace) -> None:
    config = PRESETS[args.preset]
    metadata = config.metadata() | {"samcore.random_seed": str(args.seed), "samcore.model": f"random {args.preset}"}
    save_tensors(args.target, random_params(config, args.seed), metadata)
    print(f"wrote {args.target}: seeded random decoder weights ({args.preset} layout, seed {args.seed})")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``samcore`` command."""
    parser = argparse.ArgumentParser(prog="samcore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="decode prompts on an image embedding (defaults: bundled weights, demo input)")
    p.add_argument("--weights", help="safetensors decoder weights (default: the bundled default)")
    p.add_argument("--embedding", help=".npy image embedding [1, C, h, w] (default: seeded random)")
    p.add_argument("--point", action="append", default=[], help="x,y[,label] in original pixels; repeatable")
    p.add_argument("--box", help="x0,y0,x1,y1 in original pixels")
    p.add_argument("--original-size", type=lambda t: [int(v) for v in _numbers(t, (2,))], help="H,W of the image")
    p.add_argument("--single-mask", action="store_true", help="one mask instead of three")
    p.add_argument("--out", help="write masks, logits and IoU to this .npz")
    p.add_argument("--backend", default="auto", help="backend name or 'auto' (see `samcore backends`)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps, ... (default: the backend's best)")
    p.set_defaults(run=_predict)

    p = sub.add_parser("backends", help="list registered backends, their runtime and availability")
    p.set_defaults(run=_backends)

    p = sub.add_parser("convert", help="convert a .pth/.pt checkpoint to safetensors without running pickle code")
    p.add_argument("source")
    p.add_argument("target")
    p.set_defaults(run=_convert)

    p = sub.add_parser("info", help="describe a weights file (.safetensors or .pth)")
    p.add_argument("file")
    p.set_defaults(run=_info)

    p = sub.add_parser("export", help="export the decoder as a graph traced from the spec (ONNX or TFLite)")
    formats = p.add_subparsers(dest="format", required=True)
    for name, text in (("onnx", "ONNX model for ONNX Runtime"), ("tflite", "TFLite model for LiteRT")):
        f = formats.add_parser(name, help=text)
        f.add_argument("weights", help="safetensors decoder weights")
        f.add_argument("-o", "--output", required=True, help=f"the .{name} file to write")
        f.add_argument("--grid", type=int, default=64, help="embedding grid side (64 for every official model)")
        f.add_argument("--no-mask-input", action="store_true", help="the graph without mask input")
        f.set_defaults(run=_export)
        if name == "onnx":
            f.add_argument("--interface", choices=["samcore", "meta"], default="samcore",
                           help="samcore's I/O, or Meta's SamOnnxModel I/O (a drop-in for SAM apps)")
            f.add_argument("--opset", type=int, default=17)
            f.add_argument("--single-mask", action="store_true", help="meta interface: return the best mask only")
        else:
            f.add_argument("--points", type=int, required=True, help="points per prompt, fixed (pad with label -1)")
            f.add_argument("--quantize", choices=["fp16", "int8"], help="float16 weights or int8 dynamic range")

    p = sub.add_parser("random-weights", help="write seeded random decoder weights in an official layout")
    p.add_argument("target")
    p.add_argument("--preset", choices=sorted(PRESETS), default="sam_vit_b")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_random_weights)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a subcommand; samcore errors print one line and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (SamcoreError, OSError) as exc:
        print(f"samcore {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
