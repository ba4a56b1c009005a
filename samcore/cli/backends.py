"""``samcore backends``: the registered backends and whether they run here."""

from __future__ import annotations

import argparse

from samcore.registry import ENCODERS, list_backends


def _backends(args: argparse.Namespace) -> None:
    encoders = ENCODERS.registered()
    rows = [("backend", "runtime", "status", "devices", "encoder", "dtypes")]
    for row in list_backends():
        a = row.availability
        name = row.name + (f" ({', '.join(row.aliases)})" if row.aliases else "")
        status = "available" if a.available else f"unavailable: {a.reason}"
        encoder = "yes" if row.name in encoders else "-"
        rows.append((name, a.version or "-", status, ",".join(a.devices) or "-", encoder, ",".join(row.dtypes) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5])


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``backends`` to the subcommands."""
    p = sub.add_parser("backends", help="list registered backends, their runtime and availability, and whether "
                       "they port the image encoder too")
    p.set_defaults(run=_backends)
