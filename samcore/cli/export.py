"""``samcore export FORMAT``: the decoder (or, where the format has one, the image encoder)
as a file, one subcommand per registered exporter."""

from __future__ import annotations

import argparse
import pathlib

from samcore.cli.arguments import input_file, output_file, positive_int
from samcore.errors import BackendError, MissingExtraError
from samcore.exporter import refuse_decoder_options
from samcore.registry import exporters
from samcore.weights import load_decoder_params, load_encoder_params


def _export(args: argparse.Namespace) -> None:
    """Export with the chosen exporter (its package is imported by the registry, not here)."""
    exporter = exporters()[args.format]
    if isinstance(exporter, str):
        raise BackendError(f"export {args.format}: {exporter}")
    availability = exporter.availability()
    if not availability.available:
        raise MissingExtraError(f"export {args.format}: {availability.reason}")
    if getattr(args, "part", "decoder") == "encoder":
        refuse_decoder_options({"--no-mask-input": args.no_mask_input, "--grid": args.grid != 64})
        params, config = load_encoder_params(args.weights)
        ops = exporter.export_encoder(params, config, args.output, args)
    else:
        params, config = load_decoder_params(args.weights)
        ops = exporter.export(params, config, args.output, (args.grid, args.grid), not args.no_mask_input, args)
    size = pathlib.Path(args.output).stat().st_size
    data = pathlib.Path(f"{args.output}.data")
    extra = f" (+ {data.name}: {data.stat().st_size / 1e6:.2f} MB)" if data.exists() else ""
    print(f"wrote {args.output}: {size / 1e6:.2f} MB{extra}, {len(ops)} op types: {', '.join(ops)}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export NAME`` for each registered exporter (``samcore.exporters`` entry points)."""
    p = sub.add_parser("export", help="export the decoder (or the image encoder) as a file (a graph traced "
                                      "from the spec)")
    formats = p.add_subparsers(dest="format", required=True)
    for name, exporter in sorted(exporters().items()):
        usable = not isinstance(exporter, str)
        f = formats.add_parser(name, help=f"a {exporter.suffix} file" if usable else f"unusable: {exporter}")
        f.add_argument("weights", type=input_file(".safetensors"),
                       help="safetensors weights (with the image encoder for --part encoder)")
        f.add_argument("-o", "--output", type=output_file(exporter.suffix) if usable else str, required=True,
                       help="the file to write")
        f.add_argument("--grid", type=positive_int, default=64,
                       help="embedding grid side (64 for every official model)")
        f.add_argument("--no-mask-input", action="store_true", help="the graph without mask input")
        f.set_defaults(run=_export)
        if usable:
            exporter.add_arguments(f)
            if "encoder" in exporter.parts:
                f.add_argument("--part", choices=["decoder", "encoder"], default="decoder",
                               help="the prompt encoder + mask decoder, or the image encoder (images [B, 3, S, S] "
                                    "-> image_embeddings; decoder options do not apply)")
