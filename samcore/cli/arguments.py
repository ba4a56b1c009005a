"""Typed command-line values shared by the subcommands.

Each ``type=`` helper turns one string into a value or raises ``argparse.ArgumentTypeError``
saying what was expected, what came and the fix; argparse adds the option's name and
``samcore.cli.errors.Parser`` prints it on one line (exit 2). Checks that need more than one
value (a point inside ``--original-size``, an existing file without ``--force``) raise
``UsageError`` from the subcommand instead, with the same exit code.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from samcore.cli.errors import UsageError, usage_message

#: Suffixes of torch.save checkpoints (``samcore convert`` reads them).
TORCH_SUFFIXES = (".pth", ".pt")


def numbers(text: str, counts: tuple[int, ...], what: str = "values", example: str | None = None) -> list[float]:
    """``"a,b,..."`` as finite floats, as many as one of ``counts``; ``what`` names them ("x,y"),
    ``example`` is a valid text (default: ``counts[0]`` ones)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in counts or not all(math.isfinite(v) for v in values):
        wanted = " or ".join(map(str, counts))
        example = example or ",".join(["1"] * counts[0])
        raise argparse.ArgumentTypeError(
            usage_message(f"{what}: {wanted} comma-separated numbers", repr(text), f"write it as {example}")
        )
    return values


class Point(NamedTuple):
    """A click in original pixels, with the text it was given as (for messages)."""

    x: float
    y: float
    label: int  # 1 foreground, 0 background
    text: str


def point(text: str) -> Point:
    """``"x,y"`` or ``"x,y,label"`` in original pixels (label 1 foreground, the default, or 0
    background) -> ``Point``."""
    values = numbers(text, (2, 3), "x,y or x,y,label", "300,200 or 300,200,0")
    label = values[2] if len(values) == 3 else 1
    if label not in (0, 1):
        raise argparse.ArgumentTypeError(
            usage_message("label 1 (foreground) or 0 (background)", repr(text), "write x,y,1 or x,y,0")
        )
    return Point(values[0], values[1], int(label), text)


def box(text: str) -> tuple[float, float, float, float]:
    """``"x0,y0,x1,y1"`` in original pixels, left/top corner first -> the four numbers."""
    x0, y0, x1, y1 = numbers(text, (4,), "x0,y0,x1,y1 (left, top, right, bottom)", "50,40,400,300")
    if x0 > x1 or y0 > y1:
        raise argparse.ArgumentTypeError(
            usage_message("x0 <= x1 and y0 <= y1", repr(text), f"write the top-left corner first: {min(x0, x1):g},"
                          f"{min(y0, y1):g},{max(x0, x1):g},{max(y0, y1):g}")
        )
    return x0, y0, x1, y1


def image_size(text: str) -> tuple[int, int]:
    """``"H,W"``, an image's height and width in pixels (integers >= 1) -> (H, W)."""
    example = "480,640 (height first, a comma between) for an image 640 wide and 480 high"
    h, w = numbers(text, (2,), "H,W", example)
    if h < 1 or w < 1 or h != int(h) or w != int(w):
        raise argparse.ArgumentTypeError(usage_message("H,W: two whole numbers >= 1", repr(text), f"write {example}"))
    return int(h), int(w)


def input_file(*suffixes: str) -> Callable[[str], Path]:
    """A ``type=`` for a file that must exist (with one of ``suffixes``, when given)."""

    def parse(text: str) -> Path:
        path = Path(text)
        wanted = f"an existing {' or '.join(suffixes)} file" if suffixes else "an existing file"
        if not path.is_file():
            got = f"{text!r} (a folder)" if path.is_dir() else f"{text!r} (no such file)"
            raise argparse.ArgumentTypeError(usage_message(wanted, got, "check the path"))
        if suffixes and path.suffix.lower() not in suffixes:
            fix = f"give a {' or '.join(suffixes)} file"
            if ".safetensors" in suffixes and path.suffix.lower() in TORCH_SUFFIXES:
                fix = f"convert it first: samcore convert {text} {path.with_suffix('.safetensors')}"
            raise argparse.ArgumentTypeError(usage_message(wanted, repr(text), fix))
        return path

    return parse


def output_file(*suffixes: str) -> Callable[[str], Path]:
    """A ``type=`` for a file to write: one of ``suffixes``, in a folder that exists."""

    def parse(text: str) -> Path:
        path = Path(text)
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                usage_message(f"a {' or '.join(suffixes)} file name", repr(text),
                              f"name the file to write, e.g. {path.with_suffix(suffixes[0]).name}")
            )
        folder = path.parent
        if not folder.is_dir():
            raise argparse.ArgumentTypeError(
                usage_message("a file in an existing folder", f"{text!r} (no folder {str(folder)!r})",
                              f"create the folder first (mkdir -p {folder})")
            )
        if path.is_dir():
            raise argparse.ArgumentTypeError(usage_message("a file name", f"{text!r} (a folder)", "name a file"))
        return path

    return parse


def refuse_overwrite(option: str, path: Path, force: bool) -> None:
    """Raise a ``UsageError`` when ``path`` exists and ``force`` is not set."""
    if path.exists() and not force:
        raise UsageError(option, "a file that does not exist yet", f"{os.fspath(path)!r} (exists)",
                         "pass --force to overwrite it, or choose another name")


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(usage_message("a whole number >= 1", repr(text), "write e.g. 8"))
    return value
