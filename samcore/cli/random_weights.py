"""``samcore random-weights``: seeded random weights in an official layout (decoder, or whole SAM)."""

from __future__ import annotations

import argparse

from samcore.config import ENCODER_PRESETS, PRESETS
from samcore.errors import InputError
from samcore.random_weights import SMALL_MODELS, model_configs, random_encoder_params, random_params
from samcore.weights import save_tensors


def _random_weights(args: argparse.Namespace) -> None:
    encoder_config, config = model_configs(args.preset)
    metadata = config.metadata() | {"samcore.random_seed": str(args.seed), "samcore.model": f"random {args.preset}"}
    tensors = random_params(config, args.seed)
    parts = "decoder"
    if args.encoder:
        if encoder_config is None:
            raise InputError(f"--encoder: {args.preset} has no ViT image encoder samcore builds; "
                             f"choose one of {sorted(ENCODER_PRESETS) + sorted(SMALL_MODELS)}")
        tensors |= random_encoder_params(encoder_config, args.seed)
        metadata |= encoder_config.metadata()
        parts = "image encoder + decoder"
    save_tensors(args.target, tensors, metadata)
    print(f"wrote {args.target}: seeded random {parts} weights ({args.preset} layout, seed {args.seed})")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``random-weights`` to the subcommands."""
    p = sub.add_parser("random-weights", help="write seeded random weights in an official layout (tests, demos)")
    p.add_argument("target")
    p.add_argument("--preset", choices=sorted(PRESETS) + sorted(SMALL_MODELS), default="sam_vit_b",
                   help="official layout, or 'tiny' (a whole SAM at 128 pixels, for tests)")
    p.add_argument("--encoder", action="store_true", help="include the image encoder (a whole SAM checkpoint)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_random_weights)
