"""The page in headless Chromium (Debian's chromium, driven by Playwright): the service encodes a
known image, the browser decodes a hover, clicks and a box with onnxruntime-web running samcore's web
graphs (per image, per prompt), and its masks match the Python decoder's on the same embedding
(IoU >= 0.99). A screenshot is kept under test-artifacts/."""

from __future__ import annotations

import io
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from serve_helpers import encode_file, iou, picture, python_mask, running_service

from samcore.decoder import Decoder
from samcore.embedding import Embedding
from samcore.predictor import Predictor
from samcore.weights import default_weights_path

pytest.importorskip("uvicorn")
pytest.importorskip("PIL")
sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ORT = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist" / "ort.wasm.min.mjs"
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="Debian's chromium is not installed (apt-get install "
                       "chromium)"),
    pytest.mark.skipif(not ORT.is_file(), reason="onnxruntime-web is not installed (npm ci in web/)"),
]


def test_the_browser_masks_equal_the_python_decoders(tmp_path) -> None:
    weights = default_weights_path()  # the bundled default model: the page shows real masks
    height, width = 300, 450
    image_path = tmp_path / "known.png"
    image_path.write_bytes(encode_file(picture(height, width, seed=1)))
    ARTIFACTS.mkdir(exist_ok=True)
    with running_service(weights, cache=tmp_path) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url + "/")
            page.evaluate("window.samcore.ready")
            assert page.evaluate("self.crossOriginIsolated")  # COOP/COEP: onnxruntime-web may use threads
            page.set_input_files("#file", str(image_path))
            page.wait_for_function("window.samcore.state.embedding !== null", timeout=60_000)
            key = page.evaluate("window.samcore.state.embedding.key").strip('"')
            # the page decodes with samcore's web graphs: the per-image graph ran on the embedding
            features = page.evaluate("Object.keys(window.samcore.state.imageFeatures).sort()")
            assert features == sorted(["tokens", "pe", "t2i_keys", "t2i_values", "i2t_queries", "upscale_base",
                                       "upscaling_weight"])
            with urllib.request.urlopen(f"{url}/v1/embeddings/{key}", timeout=60) as r:  # float16, as the page got
                embedding = Embedding.from_bytes(r.read())
            predictor = Predictor(Decoder.from_weights(weights, backend="numpy"))
            predictor.set_embedding(embedding)
            canvas = page.locator("#canvas").bounding_box()

            def at(x: float, y: float) -> tuple[float, float]:
                return canvas["x"] + x * canvas["width"] / width, canvas["y"] + y * canvas["height"] / height

            def browser_mask(name: str = "mask") -> np.ndarray:
                page.evaluate("window.samcore.settled()")
                flat = page.evaluate(f"Array.from(window.samcore.state.{name})")
                return np.array(flat, bool).reshape(height, width)

            def browser_state() -> tuple[np.ndarray, list[dict], list[float] | None]:
                mask = browser_mask()
                return mask, *page.evaluate("[window.samcore.state.points, window.samcore.state.box]")

            results = {}
            page.mouse.move(*at(135.5, 120.5))  # hover: a preview of a click here
            preview = browser_mask("preview")
            page.mouse.click(*at(135.5, 120.5))  # foreground click on the disc, where the mouse is
            mask, points, box = browser_state()
            assert [p["label"] for p in points] == [1] and box is None
            results["hover"] = iou(preview, python_mask(predictor, points, box))
            results["click"] = iou(mask, python_mask(predictor, points, box))

            page.keyboard.down("Shift")
            page.mouse.click(*at(330.5, 220.5))  # background click on the square
            page.keyboard.up("Shift")
            mask, points, box = browser_state()
            assert [p["label"] for p in points] == [1, 0]
            results["shift-click"] = iou(mask, python_mask(predictor, points, box))
            page.screenshot(path=str(tmp_path / "page.png"))
            shutil.copy(tmp_path / "page.png", ARTIFACTS / "browser_click.png")

            with page.expect_download() as download:
                page.click("#download")
            from PIL import Image

            downloaded = np.asarray(Image.open(io.BytesIO(Path(download.value.path()).read_bytes())).convert("L"))
            np.testing.assert_array_equal(downloaded > 127, mask)

            page.click("#clear")
            page.mouse.move(*at(250, 150))
            page.mouse.down()
            page.mouse.move(*at(320, 200), steps=5)
            page.mouse.move(*at(420, 280), steps=5)
            page.mouse.up()
            mask, points, box = browser_state()
            assert points == [] and box is not None
            results["box"] = iou(mask, python_mask(predictor, points, box))
            page.screenshot(path=str(ARTIFACTS / "browser_box.png"))
            assert not errors, errors
        finally:
            browser.close()
    assert all(value >= 0.99 for value in results.values()), results
    assert 0 < mask.mean() < 1  # the masks are not trivially empty or full
