"""The ``samcore`` command: one module per subcommand, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from samcore.cli import backends, convert, encode, export, info, predict, random_weights, segment
from samcore.errors import SamcoreError

# Each module adds its subcommand(s); order is the order `samcore --help` lists them.
COMMANDS = (predict, encode, segment, backends, export, convert, info, random_weights)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``samcore`` command."""
    parser = argparse.ArgumentParser(
        prog="samcore", description="Segment Anything: image encoder, prompt encoder and mask decoder."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
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
