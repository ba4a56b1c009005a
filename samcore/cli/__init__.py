"""The ``samcore`` command: one module per subcommand, each with ``register(subparsers)``.

Adding a subcommand: write ``samcore/cli/<name>.py`` with ``register(sub)`` that calls
``sub.add_parser(...)``, gives every argument a ``help=`` (plain text, no reST backticks),
and ``set_defaults(run=<function of args>)``; add the module to ``COMMANDS``. Errors then
need nothing of the module:

- Parse values with the ``type=`` helpers of ``samcore.cli.arguments`` (``point``, ``box``,
  ``image_size``, ``positive_int``, ``input_file(...)``, ``output_file(...)``) or a function
  of your own that raises ``argparse.ArgumentTypeError(usage_message(expected, got, fix))``.
  A bad value exits 2 with one line: ``samcore NAME: error: argument --opt: expected ...,
  got ...; fix: ...``.
- A usage problem found while running (values that clash, a file that exists): raise
  ``samcore.cli.errors.UsageError(option, expected, got, fix)``: exit 2, one line.
- A failure (``SamcoreError`` from the library, ``OSError``, a missing extra: raise
  ``samcore.extras.missing_extra`` around optional imports): exit 1, one line.
- Anything else is a bug: exit 1, one line; ``samcore --debug ...`` shows the traceback.

The first run that writes exported graphs into the empty cache says so once on stderr
(``samcore cache info|clear``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from samcore import __version__
from samcore.cache import cache_root, cached_files
from samcore.cli import (
    backends,
    cache,
    convert,
    demo,
    encode,
    everything,
    export,
    info,
    predict,
    random_weights,
    segment,
    serve,
    verify,
)
from samcore.cli.errors import Parser, report
from samcore.extras import DISTRIBUTION

# Each module adds its subcommand(s); order is the order `samcore --help` lists them.
COMMANDS = (
    segment, demo, encode, predict, everything, backends, export, verify, convert, info, random_weights, cache, serve,
)


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers that end a command line (``samcore predict``, ``samcore export onnx``, ...)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for a in subs for child in dict.fromkeys(a.choices.values()) for leaf in _leaves(child)]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``samcore`` command."""
    parser = Parser(prog="samcore", description="Segment Anything: image encoder, prompt encoder and mask decoder.")
    parser.add_argument("--version", action="version", version=f"samcore {__version__} ({DISTRIBUTION})")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    for leaf in _leaves(parser):  # --debug also after the subcommand; errors name the full command
        leaf.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of an error")
        leaf.set_defaults(prog=leaf.prog)
    return parser


def _cache_notice(had_files: bool) -> None:
    """Say once, when a run filled the empty cache, where exported graphs went and how to clear them."""
    files = [] if had_files else cached_files()
    if files:
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"samcore: exported graphs to the cache {cache_root()} ({size:.0f} MB, reused by later runs); "
              "see samcore cache info, free it with samcore cache clear", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command line; the exit code (0, 1 for a failure, 2 for a usage error)."""
    args = build_parser().parse_args(argv)
    had_files = bool(cached_files())
    try:
        args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        return report(args.prog, exc)
    finally:
        _cache_notice(had_files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
