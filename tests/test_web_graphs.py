"""The browser's decoder graphs (``samcore.serve.web_graphs``) run in ONNX Runtime: their masks
match the Python decoder's (Meta's single-mask choice; resized here by ``samcore.postprocess``,
in the page by web/masks.js, which the browser test checks; IoU >= 0.99, for float32 and for
the float16-weights variant), they hold no
[h, w]-sized constant, and they use only standard ONNX operators."""

from __future__ import annotations

import numpy as np
import pytest
from serve_helpers import iou, python_mask

from samcore.config import PRESETS
from samcore.decoder import Decoder
from samcore.embedding import Embedding
from samcore.postprocess import postprocess_masks
from samcore.predictor import Predictor
from samcore.random_weights import random_params

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CONFIG = PRESETS["sam_vit_b"]
GRID = (64, 64)
ORIGINAL = (600, 900)  # H, W of the image: the encoder's input is 683 x 1024


@pytest.fixture(scope="module")
def graphs() -> dict:
    from samcore.serve.web_graphs import export_web_graphs

    return {"params": (params := random_params(CONFIG, seed=3)), "models": export_web_graphs(params, CONFIG, GRID)}


def _session(model) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _feeds(points: list[dict], box: list[float] | None) -> dict[str, np.ndarray]:
    """The page's gathering (web/app.js ``feeds``): points, then a box's corners or the padding point."""
    coords = [[p["x"], p["y"]] for p in points] + ([box[:2], box[2:]] if box else [[0, 0]])
    labels = [p["label"] for p in points] + ([2, 3] if box else [-1])
    scale = 1024 / max(ORIGINAL)
    return {"point_coords": (np.array([coords], np.float32) * np.float32(scale)),
            "point_labels": np.array([labels], np.int64)}


@pytest.mark.parametrize("dtype", ["float32", "float16 weights"])
def test_the_web_graphs_masks_match_the_python_decoders(graphs, dtype) -> None:
    from samcore.serve.web_graphs import float16_weights

    models = graphs["models"]
    if dtype != "float32":
        models = {part: float16_weights(model) for part, model in models.items()}
        sizes = [len(m.SerializeToString()) for m in (*models.values(), *graphs["models"].values())]
        assert sum(sizes[:2]) < 0.52 * sum(sizes[2:])  # about half the download
    embedding = np.random.default_rng(0).standard_normal((1, CONFIG.embed_dim, *GRID)).astype(np.float32)
    image, prompt = _session(models["image"]), _session(models["prompt"])
    features = dict(zip([o.name for o in image.get_outputs()], image.run(None, {"image_embedding": embedding}),
                        strict=True))
    predictor = Predictor(Decoder(graphs["params"], CONFIG, backend="numpy"))
    predictor.set_embedding(Embedding(embedding, ORIGINAL, (683, 1024)))
    prompts = {"click": ([{"x": 300.5, "y": 200.5, "label": 1}], None),
               "two clicks": ([{"x": 300.5, "y": 200.5, "label": 1}, {"x": 700.5, "y": 450.5, "label": 0}], None),
               "box": ([], [250.0, 150.0, 620.0, 480.0])}
    results = {}
    for name, (points, box) in prompts.items():
        low_res, scores = prompt.run(None, {**_feeds(points, box), **features})
        assert low_res.shape == (1, 1, 256, 256) and scores.shape == (1, 1)
        masks = postprocess_masks(low_res, ORIGINAL, CONFIG.frame_size(GRID))
        results[name] = iou(masks[0, 0] > 0, python_mask(predictor, points, box))
    assert all(value >= 0.99 for value in results.values()), results


def test_the_web_graphs_hold_no_grid_sized_constant_and_only_standard_operators(graphs) -> None:
    h, w = GRID
    for part, model in graphs["models"].items():
        largest = max(int(np.prod(t.dims)) for t in model.graph.initializer)
        assert largest < h * w * CONFIG.embed_dim, (part, largest)  # the dense PE, the no-mask embedding: h w C
        assert {node.domain for node in model.graph.node} <= {""}, part  # onnxruntime-web's WASM kernels
        props = {p.key: p.value for p in model.metadata_props}
        assert props["samcore.interface"] == f"web_{part}" and props["samcore.grid"] == "64x64"


def test_an_unknown_part_is_refused_by_name(tmp_path) -> None:
    from samcore.errors import InputError
    from samcore.serve.model import ModelInfo
    from samcore.serve.web_graphs import web_decoder_onnx

    model = ModelInfo(tmp_path / "w.safetensors", "0" * 64, "m", 1024, GRID, 256, "p")
    with pytest.raises(InputError, match="part: expected one of \\['image', 'prompt'\\], got 'decoder'"):
        web_decoder_onnx(model, "decoder")
