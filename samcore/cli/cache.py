"""``samcore cache info|clear``: the exported graphs backends keep on disk (and weights files' remembered digests)."""

from __future__ import annotations

import argparse

from samcore.cache import cache_root, cached_files, clear_cache


def _info(args: argparse.Namespace) -> None:
    files = cached_files()
    print(f"cache folder: {cache_root()} (set SAMCORE_CACHE to move it)")
    print(f"{len(files)} cached files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB")
    for f in files:
        print(f"  {f.stat().st_size / 1e6:8.2f} MB  {f.relative_to(cache_root())}")


def _clear(args: argparse.Namespace) -> None:
    count, freed = clear_cache()
    print(f"removed {count} cached files ({freed / 1e6:.1f} MB) from {cache_root()}; "
          "they are made again on next use")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cache info`` and ``cache clear`` to the subcommands."""
    p = sub.add_parser("cache", help="the exported graphs and weights digests kept on disk: show or clear them")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("info", help="the cache folder, its files and their size").set_defaults(run=_info)
    actions.add_parser("clear", help="delete the cached files (they are made again when needed)").set_defaults(
        run=_clear)
