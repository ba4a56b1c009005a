"""Write the latency tables of docs/benchmarks.md and docs/deployment.md from one benchmark record.

The record is the JSON ``benchmarks/decoder.py`` writes (``benchmarks/records/decoder.json``
by default). Each table sits between ``<!-- begin: render_tables NAME -->`` and
``<!-- end: render_tables NAME -->`` in its doc, and is replaced as a whole, so the two
docs cannot disagree: edit the record (or rerun the benchmark), never the tables.

    python benchmarks/render_tables.py [--record PATH] [--check]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "records" / "decoder.json"
OFFICIAL_ONNX = "official ONNX (SamOnnxModel)"
BATCHES = ("1", "16", "64")
#: Rows of docs/deployment.md's one-click table: record name -> label.
CLICK_ROWS = {
    "samcore tflite float32": "tflite float32",
    "samcore tflite float16": "tflite float16",
    "samcore tflite int8": "tflite int8",
    "samcore onnx float32": "onnx float32 (for comparison)",
}


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['median_ms']:.1f} ({stats['min_ms']:.1f}-{stats['max_ms']:.1f})"


def decoder_table(record: dict) -> str:
    """Every decoder, ms per prompt for 1/16/64 prompts and the ratio to the official ONNX decoder."""
    results = record["results"]
    base = results.get(OFFICIAL_ONNX)
    lines = ["| decoder | set_image | 1 prompt | vs ONNX | 16 prompts | vs | 64 prompts | vs | GFLOP/s (1 click) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in results.items():
        set_image = "" if name.startswith("official") else "-"
        if row.get("set_image_ms") is not None:
            set_image = f"{row['set_image_ms']:.1f} ms"
        cells = [name, set_image]
        for batch in BATCHES:
            ratio = row[batch]["median_ms"] / base[batch]["median_ms"] if base else None
            cells += [_ms(row[batch]), f"{ratio:.2f}x" if ratio is not None else "-"]
        cells.append(f"{row['gflops_1_prompt']:.0f}" if row.get("gflops_1_prompt") else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def click_table(record: dict) -> str:
    """One click on the TFLite variants, with ONNX Runtime for comparison."""
    lines = ["| backend | ms per click | model files |", "|---|---|---|"]
    for name, label in CLICK_ROWS.items():
        if name in record["results"]:
            size = record.get("model_file_mb", {}).get(name)
            lines.append(f"| {label} | {_ms(record['results'][name]['1'])} | {f'{size:.1f} MB' if size else ''} |")
    return "\n".join(lines)


#: Doc -> the tables it holds (name -> renderer).
TABLES = {
    ROOT / "docs" / "benchmarks.md": {"decoder": decoder_table},
    ROOT / "docs" / "deployment.md": {"click": click_table},
}


def render(text: str, tables: dict[str, str]) -> str:
    """``text`` with each named table block replaced; a ValueError when a block is missing."""
    for name, table in tables.items():
        begin, end = f"<!-- begin: render_tables {name} -->", f"<!-- end: render_tables {name} -->"
        pattern = re.compile(rf"({begin}\n)(?:.*?\n)?({end})", re.S)
        if not pattern.search(text):
            raise ValueError(f"no {begin} ... {end} block")
        text = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), text)
    return text


def stale_docs(record: dict) -> list[pathlib.Path]:
    """The docs whose tables differ from what ``record`` renders."""
    return [doc for doc, renderers in TABLES.items()
            if doc.read_text() != render(doc.read_text(), {n: f(record) for n, f in renderers.items()})]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", type=pathlib.Path, default=RECORD, help="the benchmark JSON to render")
    parser.add_argument("--check", action="store_true", help="only say whether the docs match the record")
    args = parser.parse_args()
    record = json.loads(args.record.read_text())
    if args.check:
        stale = stale_docs(record)
        for doc in stale:
            print(f"{doc.relative_to(ROOT)}: tables differ from {args.record}; run benchmarks/render_tables.py")
        return 1 if stale else 0
    for doc, renderers in TABLES.items():
        doc.write_text(render(doc.read_text(), {name: f(record) for name, f in renderers.items()}))
        print(f"wrote {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
