"""``samcore info``: describe a weights file."""

from __future__ import annotations

import argparse
import json

from samcore.weights import describe


def _info(args: argparse.Namespace) -> None:
    info = describe(args.file)
    for part in ("decoder_config", "encoder_config"):
        if part in info:
            info[part] = vars(info[part])
    print(json.dumps(info, indent=2, default=str))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``info`` to the subcommands."""
    p = sub.add_parser("info", help="describe a weights file (.safetensors or .pth)")
    p.add_argument("file")
    p.set_defaults(run=_info)
