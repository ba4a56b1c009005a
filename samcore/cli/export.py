"""``samcore export``: graphs traced from the spec (ONNX, TFLite)."""

from __future__ import annotations

import argparse
import pathlib

from samcore.errors import InputError
from samcore.weights import load_decoder_params, load_encoder_params


def _export(args: argparse.Namespace) -> None:
    """Export graphs traced from the spec; the backends' packages are imported only here."""
    if args.format == "onnx" and args.part == "encoder":
        _export_encoder(args)
        return
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


def _export_encoder(args: argparse.Namespace) -> None:
    """``export onnx W --part encoder``: the image encoder spec as one ONNX model (dynamic batch)."""
    from samcore_onnx import export_encoder_onnx

    decoder_only = {"--interface meta": args.interface != "samcore", "--single-mask": args.single_mask,
                    "--no-mask-input": args.no_mask_input, "--grid": args.grid != 64}
    if any(decoder_only.values()):
        given = ", ".join(option for option, set_ in decoder_only.items() if set_)
        raise InputError(f"--part encoder: expected no decoder options, got {given}")
    params, config = load_encoder_params(args.weights)
    model = export_encoder_onnx(params, config, args.output, opset=args.opset)
    ops = sorted({node.op_type for node in model.graph.node})
    size = pathlib.Path(args.output).stat().st_size
    data = pathlib.Path(f"{args.output}.data")
    extra = f" (+ {data.name}: {data.stat().st_size / 1e6:.2f} MB)" if data.exists() else ""
    print(f"wrote {args.output}: {size / 1e6:.2f} MB{extra}, {len(ops)} op types: {', '.join(ops)}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export onnx`` and ``export tflite`` to the subcommands."""
    p = sub.add_parser("export", help="export the decoder (or, to ONNX, the image encoder) as a graph traced "
                                      "from the spec")
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
            f.add_argument("--part", choices=["decoder", "encoder"], default="decoder",
                           help="the prompt encoder + mask decoder, or the image encoder (images [B, 3, S, S] "
                                "-> image_embeddings; decoder options do not apply)")
        else:
            f.add_argument("--points", type=int, required=True, help="points per prompt, fixed (pad with label -1)")
            f.add_argument("--quantize", choices=["fp16", "int8"], help="float16 weights or int8 dynamic range")
