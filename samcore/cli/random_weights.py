"""``samcore random-weights``: seeded random weights in an official layout."""

from __future__ import annotations

import argparse

from samcore.cli.arguments import output_file, refuse_overwrite
from samcore.config import PRESETS
from samcore.random_weights import random_params
from samcore.weights import save_tensors


def _random_weights(args: argparse.Namespace) -> None:
    refuse_overwrite("target", args.target, args.force)
    config = PRESETS[args.preset]
    metadata = config.metadata() | {"samcore.random_seed": str(args.seed), "samcore.model": f"random {args.preset}"}
    save_tensors(args.target, random_params(config, args.seed), metadata)
    print(f"wrote {args.target}: seeded random decoder weights ({args.preset} layout, seed {args.seed})")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``random-weights`` to the subcommands."""
    p = sub.add_parser("random-weights", help="write seeded random decoder weights in an official layout")
    p.add_argument("target", type=output_file(".safetensors"), help="the .safetensors file to write")
    p.add_argument("--preset", choices=sorted(PRESETS), default="sam_vit_b", help="the layout (default: sam_vit_b)")
    p.add_argument("--seed", type=int, default=0, help="random seed; one seed always writes the same bytes")
    p.add_argument("--force", action="store_true", help="overwrite the target if it exists")
    p.set_defaults(run=_random_weights)
