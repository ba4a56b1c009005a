"""``samcore convert``: a .pth checkpoint to safetensors, no pickle code run."""

from __future__ import annotations

import argparse

from samcore.cli.arguments import input_file, output_file
from samcore.weights import convert_checkpoint, describe


def _convert(args: argparse.Namespace) -> None:
    convert_checkpoint(args.source, args.target)
    info = describe(args.target)
    print(f"wrote {args.target}: {info['parameters']:,} parameters, sha256 {info['sha256']}")
    print(f"model: {info['model'] or 'unknown'}; decoder parameters: {info.get('decoder_parameters', 0):,}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``convert`` to the subcommands."""
    p = sub.add_parser("convert", help="convert a .pth/.pt checkpoint to safetensors without running pickle code")
    p.add_argument("source", type=input_file(),
                   help="the checkpoint to read (torch.save format, e.g. sam_vit_b_01ec64.pth)")
    p.add_argument("target", type=output_file(".safetensors"), help="the .safetensors file to write")
    p.set_defaults(run=_convert)
