"""Argument parsing helpers shared by the subcommands."""

from __future__ import annotations

import argparse


def numbers(text: str, count: tuple[int, ...]) -> list[float]:
    """Parse ``"a,b,..."`` into floats; ``count`` lists the accepted lengths."""
    values = [float(v) for v in text.split(",")]
    if len(values) not in count:
        wanted = " or ".join(map(str, count))
        raise argparse.ArgumentTypeError(f"expected {wanted} comma-separated numbers, got {text!r}")
    return values
