"""The decoder in the browser: samcore's web graphs against Meta's official ONNX export.

Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) opens a page of its
own (benchmarks/web/) on a loopback server (127.0.0.1, cross-origin isolated by COOP/COEP
headers, so onnxruntime-web runs its WASM build on ``--threads`` threads). On one embedding
[1, 256, 64, 64] (seeded normal) of a 1200 x 1800 image and the same clicks, it times:

- ``samcore web float32``: ``samcore.serve.web_graphs`` (what the service ships): the
  per-image graph once, then the per-prompt graph per click;
- ``samcore web float16 weights``: the same graphs through ``float16_weights`` (not served yet);
- ``Meta SamOnnxModel float32``: Meta's ``SamOnnxModel`` (return_single_mask, as its web demo
  exports it), legacy exporter (dynamo=False), opset 17, dynamic number of points;
- ``Meta SamOnnxModel int8``: that file through ``onnxruntime.quantization.quantize_dynamic``
  (QInt8 weights).

The decoders are ViT-B's with seeded random weights (the same in all three). Per click: the
decode and the mask at the image's size thresholded into a Uint8Array (what the page
overlays): samcore's low-res mask resized by the page's web/masks.js, Meta's in its graph.
Load: fetch + session creation. First click: the first decode after the session exists,
after the per-image graph for samcore. Masks of the first round are compared with
samcore's Python decoder (IoU). Then the page's resize alone, on a decoded mask (noisy: the
weights are random) and on a smooth one (a disc, what trained weights give): masks.js fills
the runs of one sign, so its cost depends on the mask. Prints a table and writes JSON.

    python benchmarks/web.py [--threads 2] [--clicks 8] [--rounds 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np

from samcore.config import PRESETS
from samcore.decoder import Decoder
from samcore.embedding import Embedding
from samcore.predictor import Predictor
from samcore.random_weights import random_params
from samcore.serve.web import ISOLATION_HEADERS, ORT_DIST, ORT_FILES
from samcore.serve.web_graphs import export_web_graphs, float16_weights

ROOT = Path(__file__).resolve().parents[1]
PAGE = Path(__file__).resolve().parent / "web"
CHROMIUM = "/usr/bin/chromium"
GRID = (64, 64)
ORIGINAL = (1200, 1800)
INPUT = (683, 1024)  # ResizeLongestSide(1024) of ORIGINAL


def meta_export(sam, path: Path) -> None:
    """Meta's SamOnnxModel as scripts/export_onnx_model.py writes it (--return-single-mask),
    traced at the benchmark's image size (``official_runners.meta_onnx``)."""
    from official_runners import meta_onnx

    path.write_bytes(meta_onnx(sam, ORIGINAL, single_mask=True))


def write_files(folder: Path, params: dict, config, embedding: np.ndarray, clicks: np.ndarray, args) -> None:
    """The page, onnxruntime-web, the models, the embedding and the page's config, in ``folder``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from samcore.conformance.official import build_official_sam

    for name in ("bench.html", "bench.js"):
        shutil.copy(PAGE / name, folder / name)
    shutil.copy(ROOT / "web" / "masks.js", folder / "masks.js")
    (folder / "ort").mkdir()
    for name in ORT_FILES:
        shutil.copy(ROOT / "web" / ORT_DIST / name, folder / "ort" / name)
    for part, model in export_web_graphs(params, config, GRID).items():
        (folder / f"web_{part}.onnx").write_bytes(model.SerializeToString())
        (folder / f"web16_{part}.onnx").write_bytes(float16_weights(model).SerializeToString())
    meta_export(build_official_sam(config, GRID[0], params), folder / "meta.onnx")
    quantize_dynamic(str(folder / "meta.onnx"), str(folder / "meta_int8.onnx"), weight_type=QuantType.QInt8)
    (folder / "embedding.bin").write_bytes(embedding.tobytes())
    scale = max(INPUT) / max(ORIGINAL)
    (folder / "config.json").write_text(json.dumps({
        "threads": args.threads, "rounds": args.rounds, "dims": list(embedding.shape), "original": list(ORIGINAL),
        "input": list(INPUT), "frame": list(config.frame_size(GRID)),
        "clicks": (clicks * scale).tolist(),
        "variants": [
            {"name": "samcore web float32", "kind": "samcore", "files": ["/web_image.onnx", "/web_prompt.onnx"]},
            {"name": "samcore web float16 weights", "kind": "samcore",
             "files": ["/web16_image.onnx", "/web16_prompt.onnx"]},
            {"name": "Meta SamOnnxModel float32", "kind": "meta", "files": ["/meta.onnx"]},
            {"name": "Meta SamOnnxModel int8", "kind": "meta", "files": ["/meta_int8.onnx"]},
        ],
    }))


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the COOP/COEP/CORP headers (SharedArrayBuffer: WASM threads)."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
    }

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS:
            self.send_header(name.decode(), value.decode())
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(folder: Path):
    """A loopback HTTP server for ``folder`` -> its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(IsolatedHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def run_page(url: str, timeout_s: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url + "/bench.html")
            page.wait_for_function("window.benchmark !== undefined || document.title === 'error'",
                                   timeout=timeout_s * 1000)
            if errors:
                raise SystemExit(f"the page failed: {errors}")
            return {**page.evaluate("window.benchmark"), "browser": browser.version}
        finally:
            browser.close()


def reference_masks(params: dict, config, embedding: np.ndarray, clicks: np.ndarray) -> list[np.ndarray]:
    """samcore's Python decoder (numpy) on each click: the best of three masks, as Meta's single-mask export."""
    predictor = Predictor(Decoder(params, config, backend="numpy"))
    predictor.set_embedding(Embedding(embedding, ORIGINAL, INPUT))
    masks = []
    for x, y in clicks:
        found, scores, _ = predictor.predict(point_coords=[[x, y]], point_labels=[1], multimask_output=True)
        masks.append(found[int(np.argmax(scores))])
    return masks


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime-web WASM threads")
    parser.add_argument("--clicks", type=int, default=8, help="distinct clicks (random, seeded)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the clicks per decoder")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the page may take")
    parser.add_argument("--json", default="benchmarks/records/web.json", help="where to write the record")
    args = parser.parse_args()

    config = PRESETS["sam_vit_b"]
    params = random_params(config, seed=0)
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((1, config.embed_dim, *GRID)).astype(np.float32)
    clicks = (rng.uniform(0.1, 0.9, (args.clicks, 2)) * [ORIGINAL[1], ORIGINAL[0]]).round() + 0.5
    with tempfile.TemporaryDirectory() as folder:
        write_files(Path(folder), params, config, embedding, clicks, args)
        with serving(Path(folder)) as url:
            record = run_page(url, args.timeout)
    references = reference_masks(params, config, embedding, clicks)
    pixels = ORIGINAL[0] * ORIGINAL[1]
    rows = []
    for result in record["results"]:
        masks = [np.unpackbits(np.frombuffer(base64.b64decode(m), np.uint8))[:pixels].reshape(ORIGINAL).astype(bool)
                 for m in result.pop("masks")]
        result["iou_to_python"] = [iou(m, r) for m, r in zip(masks, references, strict=True)]
        result["click_median_ms"] = float(np.median(result["click_ms"]))
        result["decode_median_ms"] = float(np.median(result["decode_ms"]))
        rows.append(result)
    meta = next(r for r in rows if r["name"] == "Meta SamOnnxModel float32")
    print(f"onnxruntime-web WASM, {record['threads']} threads, cross-origin isolated: {record['isolated']}, "
          f"{record['browser']}, load average {os.getloadavg()[0]:.1f}; {args.clicks} clicks x {args.rounds} rounds")
    print("| decoder | MB | load ms | first click ms | per click median ms (decode only) | Meta f32 / this "
          "| min IoU to Python |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        per_image = "" if r["image_ms"] is None else f" (per-image {r['image_ms']:.0f})"
        print(f"| {r['name']} | {r['bytes'] / 1e6:.2f} | {r['load_ms']:.0f} | {r['first_click_ms']:.0f}{per_image} | "
              f"{r['click_median_ms']:.1f} ({r['decode_median_ms']:.1f}) | "
              f"{meta['click_median_ms'] / r['click_median_ms']:.2f} | "
              f"{min(r['iou_to_python']):.4f} |")
    resize = record["resize"]
    print(f"web/masks.js alone, low-res mask to {ORIGINAL[0]} x {ORIGINAL[1]}, median ms: the decoder's mask (random "
          f"weights: noisy) {resize['decoder_mask_ms']:.1f}, a smooth mask (a disc) {resize['smooth_mask_ms']:.1f}")
    record.update(load_average=os.getloadavg(), clicks=args.clicks, rounds=args.rounds, original=ORIGINAL)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
