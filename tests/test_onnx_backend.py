"""The ONNX backend: graphs traced from the spec, checked against the spec and Meta's export."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'segment-anything-samcore[onnx]')")
ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (pip install 'segment-anything-samcore[onnx]')"
)

from samcore_onnx import OnnxBackend, cache, export_fast_onnx, export_onnx  # noqa: E402

from conftest import record_parity  # noqa: E402
from samcore import Decoder, fast  # noqa: E402
from samcore.backend import FLOAT32_TOLERANCE  # noqa: E402
from samcore.conformance import checks  # noqa: E402
from samcore.conformance.strategies import CONFIGS, CaseRecipe  # noqa: E402
from samcore.graph.emitters import ONNXRUNTIME  # noqa: E402
from samcore.graph.emitters import onnxruntime as ort_emitters  # noqa: E402
from samcore.graph.tracer import Graph  # noqa: E402
from samcore.inputs import check_prompts  # noqa: E402
from samcore.postprocess import postprocess_masks  # noqa: E402
from samcore.random_weights import random_params  # noqa: E402
from samcore.spec import ops  # noqa: E402
from samcore.weights import params_sha256  # noqa: E402

TINY, TINY_GRID = CONFIGS["tiny"]
VIT_B, VIT_B_GRID = CONFIGS["vit_b"]
CPU = ["CPUExecutionProvider"]


pytestmark = pytest.mark.usefixtures("cache_folder")  # every export of this module: a fresh folder


@pytest.fixture(scope="module")
def tiny_params():
    return random_params(TINY, seed=5)


@pytest.fixture(scope="module")
def tiny_backend(cache_folder, tiny_params):
    return OnnxBackend(tiny_params, TINY, "cpu", "float32")


def _session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=CPU)


# --- the graph ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("interface", "with_mask_input"), [("samcore", True), ("samcore", False), ("meta", True)])
def test_graph_passes_checker_and_has_metadata(tiny_params, tmp_path, interface, with_mask_input) -> None:
    path = tmp_path / "decoder.onnx"
    model = export_onnx(tiny_params, TINY, path, interface=interface, grid=(TINY_GRID, TINY_GRID),
                        with_mask_input=with_mask_input)
    onnx.checker.check_model(onnx.load(path), full_check=True)  # full_check: strict shape inference too
    meta = {p.key: p.value for p in model.metadata_props}
    import samcore

    assert meta["samcore.version"] == samcore.__version__
    assert meta["samcore.weights_sha256"] == params_sha256(tiny_params, TINY)
    assert meta["samcore.interface"] == interface
    assert meta["samcore.grid"] == f"{TINY_GRID}x{TINY_GRID}"
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert inputs["point_coords"] == ["B", "N", 2]
    if interface == "samcore":
        assert ("mask_input" in inputs) == with_mask_input
        assert [o.name for o in model.graph.output] == ["low_res_logits", "iou_predictions"]
    else:
        assert list(inputs) == [
            "image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size",
        ]
        assert [o.name for o in model.graph.output] == ["masks", "iou_predictions", "low_res_masks"]


HOOKED = {
    "erf": (ops.erf, [(3, 40)], 3.0),
    "gelu": (ops.gelu, [(3, 40)], 4.0),
    "softmax": (ops.softmax, [(2, 3, 7)], 5.0),
    "layer_norm": (lambda x: ops.layer_norm(x, np.linspace(0.5, 2, 16, dtype=np.float32), np.full(16, 0.1, np.float32),
                                            eps=1e-5), [(2, 5, 16)], 3.0),
    "layer_norm_2d": (lambda x: ops.layer_norm_2d(x, np.linspace(0.5, 2, 6, dtype=np.float32),
                                                  np.full(6, 0.1, np.float32)), [(2, 6, 5, 7)], 3.0),
    "conv2d": (lambda x: ops.conv2d(x, *_weights((6, 4, 2, 2), 6)), [(2, 4, 8, 6)], 1.0),
    "conv_transpose2d": (lambda x: ops.conv_transpose2d(x, *_weights((4, 6, 2, 2), 6)), [(2, 4, 3, 5)], 1.0),
}


def _weights(shape: tuple[int, ...], out_channels: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(out_channels).astype(np.float32)


@pytest.mark.parametrize("name", list(HOOKED))
def test_hooked_ops_emit_what_the_spec_computes(name) -> None:
    func, shapes, scale = HOOKED[name]
    graph = Graph(17, ONNXRUNTIME)
    (shape,) = shapes
    graph.output(func(graph.input("x", np.float32, shape)), "y")
    x = (scale * np.random.default_rng(0).standard_normal(shape)).astype(np.float32)
    (ours,) = _session(graph.model("op", "test")).run(None, {"x": x})
    np.testing.assert_allclose(ours, func(x), rtol=2e-6, atol=2e-6)


# --- the backend against the spec ----------------------------------------------------------------


@pytest.mark.slow
def test_backend_equals_spec_vit_b() -> None:
    for seed, (batch, points, kinds, multimask) in enumerate([
        (1, 1, "points", True), (3, 4, "points+box", False), (2, 2, "points+mask", True), (2, 1, "box+mask", True),
        (1, 1, "mask", False),
    ]):
        checks.check_matches_spec("onnx", CaseRecipe("vit_b", seed, batch, kinds, points, (-1, 0, 1, 2, 3), multimask))


# --- the fast formulation's graphs (what the backend runs) --------------------------------------

#: (with_mask_input, multimask_output): one per-prompt graph each.
FAST_SETTINGS = [(False, True), (False, False), (True, True), (True, False)]


def _dims(values) -> dict[str, list]:
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}


@pytest.mark.parametrize(("with_mask_input", "multimask_output"), FAST_SETTINGS)
def test_fast_graphs_pass_checker_and_have_metadata(tiny_params, tmp_path, with_mask_input, multimask_output) -> None:
    paths = (tmp_path / "image.onnx", tmp_path / "decode.onnx")
    models = export_fast_onnx(tiny_params, TINY, paths, grid=(TINY_GRID, TINY_GRID), with_mask_input=with_mask_input,
                              multimask_output=multimask_output)
    for path, model, interface in zip(paths, models, ("fast_image", "fast_decode"), strict=True):
        onnx.checker.check_model(onnx.load(path), full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["samcore.interface"] == interface
        assert meta["samcore.weights_sha256"] == params_sha256(tiny_params, TINY)
        assert meta["samcore.grid"] == f"{TINY_GRID}x{TINY_GRID}"
    assert meta["samcore.mask_input"] == str(with_mask_input).lower()
    assert meta["samcore.multimask_output"] == str(multimask_output).lower()
    g, c, heads = TINY_GRID, TINY.embed_dim, TINY.num_heads
    head = c // TINY.attention_downsample_rate // heads
    embedding = {"image_embedding": [1, c, g, g]}
    per_head = [1, heads, g * g, head]
    features = {"tokens": [1, g * g, c], "t2i_keys": per_head, "t2i_values": per_head, "i2t_queries": per_head,
                "upscale_base": [1, g * g, c]}
    assert _dims(models.image_features.graph.input) == embedding
    assert _dims(models.image_features.graph.output) == features
    points = {"point_coords": ["B", "N", 2], "point_labels": ["B", "N"]}
    mask = {"mask_input": ["B", 1, 4 * g, 4 * g]}
    assert _dims(models.decode.graph.input) == points | (embedding | mask if with_mask_input else features)
    m = TINY.num_mask_tokens - 1 if multimask_output else 1
    assert _dims(models.decode.graph.output) == {"low_res_logits": ["B", m, 4 * g, 4 * g], "iou_predictions": ["B", m]}


@pytest.mark.parametrize("config", ["tiny", pytest.param("vit_b", marks=pytest.mark.slow)])
@pytest.mark.parametrize("kinds", ["points", "points+box", "mask", "box+mask"])
@pytest.mark.parametrize("multimask_output", [True, False])
def test_fast_graphs_equal_spec(config, kinds, multimask_output) -> None:
    """Every per-prompt graph (with and without mask input, both multimask settings)
    against the plain spec, on features from set_image and computed on the fly."""
    for seed, set_image in ((0, True), (1, False)):
        recipe = CaseRecipe(config, seed, batch=2 if config == "vit_b" else 3, kinds=kinds, points=3,
                            labels=(-1, 0, 1, 2, 3), multimask_output=multimask_output)
        checks.check_matches_spec("onnx", recipe, set_image=set_image)


def test_set_image_runs_the_per_image_graph_once(cache_folder, tiny_params) -> None:
    dec = Decoder(tiny_params, TINY, backend="onnx")
    ref = Decoder(tiny_params, TINY, backend="numpy")
    rng = np.random.default_rng(8)
    embedding = rng.standard_normal((TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    dec.set_image(embedding)
    ref.set_image(embedding)
    assert dec.backend.image_runs == 1
    frame = TINY.frame_size((TINY_GRID, TINY_GRID))[0]
    mask = (4 * rng.standard_normal((2, 1, 4 * TINY_GRID, 4 * TINY_GRID))).astype(np.float32)
    for i in range(8):
        points = rng.random((2, 1 + i % 3, 2)) * frame
        kwargs = {"point_coords": points, "point_labels": np.ones(points.shape[:2], np.int64),
                  "multimask_output": i % 2 == 0, "mask_input": mask if i % 4 == 3 else None}
        got, want = dec.predict(**kwargs), ref.predict(**kwargs)
        for name in ("low_res_logits", "iou_predictions"):
            a, b = getattr(got, name), getattr(want, name)
            assert np.all(np.abs(a - b) <= FLOAT32_TOLERANCE[name].bound(b)), name
    assert dec.backend.image_runs == 1  # once for 8 clicks (mask prompts do not use it)
    other = embedding + np.float32(1)  # not set_image's array: features on the fly, every call
    for runs in (2, 3):
        got, want = dec.predict(other, [[[10.0, 20.0]]], [[1]]), ref.predict(other, [[[10.0, 20.0]]], [[1]])
        np.testing.assert_allclose(got.low_res_logits, want.low_res_logits, atol=1e-4, rtol=1e-5)
        assert dec.backend.image_runs == runs
    dec.predict(point_coords=[[[10.0, 20.0]]], point_labels=[[1]])
    assert dec.backend.image_runs == 3  # set_image's features are kept


def test_mask_logits_emitter_equals_spec(tiny_params) -> None:
    """All tokens at once in the graph vs the spec's cache-sized chunks (several here)."""
    grid = (12, 20)  # 240 tokens: two chunks of the NumPy formulation
    rng = np.random.default_rng(9)
    c8 = TINY.embed_dim // 8
    image = rng.standard_normal((3, grid[0] * grid[1], TINY.embed_dim)).astype(np.float32)
    hyper = rng.standard_normal((3, 2, c8)).astype(np.float32)
    graph = Graph(17, ONNXRUNTIME)
    traced = [graph.input("image", np.float32, ("B", image.shape[1], TINY.embed_dim)),
              graph.input("hyper", np.float32, ("B", "M", c8))]
    graph.output(fast.mask_logits(tiny_params, *traced, grid), "masks")
    (ours,) = _session(graph.model("mask_logits", "test")).run(None, {"image": image, "hyper": hyper})
    want = fast.mask_logits(tiny_params, image, hyper, grid)
    assert ours.shape == want.shape == (3, 2, 4 * grid[0], 4 * grid[1])
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [100, ort_emitters.UPSCALE_CHUNK])
def test_upscaled_logits_emitter_equals_spec(tiny_params, monkeypatch, chunk) -> None:
    """ONNX Runtime's chunks (100 tokens: 100, 100, 40; the default: all 240 at once) vs the
    NumPy formulation, on random per-layer image updates and a per-image base."""
    monkeypatch.setattr(ort_emitters, "UPSCALE_CHUNK", chunk)
    grid, batch, rows, c = (12, 20), 3, 2 * TINY.num_heads, TINY.embed_dim
    hw = grid[0] * grid[1]
    rng = np.random.default_rng(10)
    feed = {"base": rng.standard_normal((1, hw, c)).astype(np.float32),
            "hyper": rng.standard_normal((batch, 2, c // 8)).astype(np.float32)}
    for i in range(TINY.depth):
        feed |= {f"weights{i}": rng.random((batch, rows, hw)).astype(np.float32),
                 f"u{i}": rng.standard_normal((batch, rows, c)).astype(np.float32),
                 f"mean{i}": rng.standard_normal((batch, hw, 1)).astype(np.float32),
                 f"inv_std{i}": (0.5 + rng.random((batch, hw, 1))).astype(np.float32)}
    graph = Graph(17, ONNXRUNTIME)
    traced = {name: graph.input(name, np.float32, ("B", *value.shape[1:]) if name != "base" else value.shape)
              for name, value in feed.items()}

    def updates(values):
        return [fast.ImageUpdate(*(values[f"{k}{i}"] for k in ("weights", "u", "mean", "inv_std")))
                for i in range(TINY.depth)]

    logits = fast.upscaled_logits(tiny_params, TINY, traced["base"], updates(traced), traced["hyper"], grid)
    graph.output(logits, "masks")
    model = graph.model("upscaled_logits", "test")
    assert [n.op_type for n in model.graph.node].count("Erf") == 2 * -(-hw // chunk)  # two GELUs a chunk
    (ours,) = _session(model).run(None, feed)
    want = fast.upscaled_logits(tiny_params, TINY, feed["base"], updates(feed), feed["hyper"], grid)
    assert ours.shape == want.shape == (batch, 2, 4 * grid[0], 4 * grid[1])
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("key", [(slice(None), [1, 2]), (slice(None), [2, 0]), (Ellipsis, [0, 3, 1]), ([1, 0],),
                                 (None, slice(None), [2])])
def test_indexing_with_a_list(key) -> None:
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    graph = Graph(17, ONNXRUNTIME)
    graph.output(graph.input("x", np.float32, x.shape)[key], "y")
    (ours,) = _session(graph.model("index", "test")).run(None, {"x": x})
    np.testing.assert_array_equal(ours, x[key])
    with pytest.raises(NotImplementedError):
        graph.input("z", np.float32, x.shape)[0, [1, 2]]


def test_cache_is_reused(cache_folder, tiny_params) -> None:
    embedding = np.random.default_rng(3).standard_normal((1, TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    prompts = check_prompts([[[10.0, 20.0]]], [[1]], None, None, embedding.shape[-2:], TINY.frame_size((8, 8)))
    grid = (TINY_GRID, TINY_GRID)
    first = OnnxBackend(tiny_params, TINY, "cpu", "float32")
    expected = first.decode(embedding, prompts, True)
    files = {p: p.stat().st_mtime_ns for p in cache_folder.glob("*.onnx")}
    exports = OnnxBackend.exports
    second = OnnxBackend({k: v.copy() for k, v in tiny_params.items()}, TINY, "cpu", "float32")
    for got, want in zip(second.decode(embedding, prompts, True), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert second.decode_session(grid, False, True) is second.decode_session(grid, False, True)
    assert second.image_session(grid) is second.image_session(grid)
    assert OnnxBackend.exports == exports
    assert {p: p.stat().st_mtime_ns for p in cache_folder.glob("*.onnx")} == files
    other = OnnxBackend(random_params(TINY, seed=6), TINY, "cpu", "float32")
    other.decode(embedding, prompts, True)
    assert OnnxBackend.exports == exports + 1  # other weights, other files


@pytest.mark.parametrize("which", [0, 1])
def test_a_corrupt_cache_file_is_exported_again(cache_folder, tiny_params, which) -> None:
    backend = OnnxBackend(tiny_params, TINY, "cpu", "float32")
    path = cache.fast_cache_paths(backend.weights_sha256, (4, 4), opset=17, with_mask_input=False,
                                  multimask_output=True)[which]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a model")
    session = backend.image_session((4, 4)) if which == 0 else backend.decode_session((4, 4), False, True)
    assert session.get_inputs()[0].name == onnx.load(path).graph.input[0].name
    assert onnx.load(path).graph.input[0].name == ("image_embedding" if which == 0 else "point_coords")


def test_decoder_runs_on_onnx(cache_folder, tiny_params) -> None:
    from samcore.registry import get

    assert get("ort") is OnnxBackend and get("onnxruntime") is OnnxBackend
    dec = Decoder(tiny_params, TINY, backend="onnx")
    ref = Decoder(tiny_params, TINY, backend="numpy")
    embedding = np.random.default_rng(4).standard_normal((TINY.embed_dim, TINY_GRID, TINY_GRID)).astype(np.float32)
    out = dec.predict(embedding, [[[30.0, 40.0], [90.0, 10.0]]], [[1, 0]], boxes=[[5, 5, 100, 80]])
    want = ref.predict(embedding, [[[30.0, 40.0], [90.0, 10.0]]], [[1, 0]], boxes=[[5, 5, 100, 80]])
    np.testing.assert_allclose(out.low_res_logits, want.low_res_logits, atol=1e-4, rtol=1e-5)


def test_importing_the_package_needs_no_runtime() -> None:
    script = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('onnx', 'onnxruntime'):\n"
        "            raise ImportError('blocked by test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import samcore_onnx\n"
        "a = samcore_onnx.OnnxBackend.availability()\n"
        "assert not a.available and 'onnx' in a.reason, a\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


# --- the meta interface --------------------------------------------------------------------------

EXPORT_SIZE = (150, 100)  # orig_im_size given to Meta's export (its crop keeps this size)


def _meta_feed(rng: np.random.Generator, batch: int, points: int, has_mask: float, orig: tuple[int, int]) -> dict:
    g = TINY_GRID
    return {
        "image_embeddings": rng.standard_normal((1, TINY.embed_dim, g, g)).astype(np.float32),
        "point_coords": (rng.random((batch, points, 2)) * 16 * g).astype(np.float32),
        "point_labels": rng.integers(-1, 4, (batch, points)).astype(np.float32),
        "mask_input": (4 * rng.standard_normal((1, 1, 4 * g, 4 * g))).astype(np.float32),
        "has_mask_input": np.array([has_mask], np.float32),
        "orig_im_size": np.array(orig, np.float32),
    }


def _official_export(params: dict, return_single_mask: bool) -> ort.InferenceSession:
    """Meta's SamOnnxModel through the legacy exporter, as scripts/export_onnx_model.py does."""
    torch = pytest.importorskip("torch")
    from samcore.conformance.official import build_official_sam, onnx_utils

    model = onnx_utils.SamOnnxModel(build_official_sam(TINY, TINY_GRID, params), return_single_mask=return_single_mask)
    g = TINY_GRID
    dummy = {
        "image_embeddings": torch.randn(1, TINY.embed_dim, g, g),
        "point_coords": torch.randint(low=0, high=16 * g, size=(1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, 4 * g, 4 * g),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor(EXPORT_SIZE, dtype=torch.float),
    }
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, tuple(dummy.values()), f, export_params=True, opset_version=17, do_constant_folding=True,
            input_names=list(dummy), output_names=["masks", "iou_predictions", "low_res_masks"],
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}, dynamo=False,
        )
    return ort.InferenceSession(f.getvalue(), providers=CPU)


@pytest.mark.parametrize("return_single_mask", [False, True])
def test_meta_interface_matches_official_export(tiny_params, return_single_mask) -> None:
    official = _official_export(tiny_params, return_single_mask)
    ours = _session(export_onnx(tiny_params, TINY, interface="meta", grid=(TINY_GRID, TINY_GRID),
                                return_single_mask=return_single_mask))
    rng = np.random.default_rng(5)
    for points, has_mask in [(5, 1.0), (1, 0.0), (2, 1.0), (3, 0.0), (7, 1.0)]:
        feed = _meta_feed(rng, 1, points, has_mask, EXPORT_SIZE)
        for name, a, b in zip(("masks", "iou_predictions", "low_res_masks"), ours.run(None, feed),
                              official.run(None, feed), strict=True):
            assert a.shape == b.shape, name
            record_parity(f"onnx meta vs official export, {name}", a, b)
            np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("orig", [(77, 300), (300, 77), (128, 128), (1000, 37), (64, 96)])
def test_meta_interface_follows_orig_im_size_at_run_time(tiny_params, orig) -> None:
    """The PyPI export crops to its export-time size; ours reads orig_im_size at run time."""
    ours = _session(export_onnx(tiny_params, TINY, interface="meta", grid=(TINY_GRID, TINY_GRID)))
    masks, _, low_res = ours.run(None, _meta_feed(np.random.default_rng(6), 2, 3, 1.0, orig))
    assert masks.shape == (2, TINY.num_mask_tokens, *orig)
    want = postprocess_masks(low_res, orig, TINY.frame_size((TINY_GRID, TINY_GRID)))
    record_parity("onnx meta vs postprocess_masks", masks, want)
    np.testing.assert_allclose(masks, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("return_single_mask", [False, True])
def test_meta_interface_batches_prompts(tiny_params, return_single_mask) -> None:
    session = _session(export_onnx(tiny_params, TINY, interface="meta", grid=(TINY_GRID, TINY_GRID),
                                   return_single_mask=return_single_mask))
    for points, has_mask in [(2, 1.0), (4, 0.0)]:
        feed = _meta_feed(np.random.default_rng(7), 4, points, has_mask, (90, 120))
        batched = session.run(None, feed)
        for i in range(4):
            alone = session.run(None, feed | {k: feed[k][i : i + 1] for k in ("point_coords", "point_labels")})
            for a, b in zip(batched, alone, strict=True):
                np.testing.assert_allclose(a[i : i + 1], b, atol=1e-5, rtol=1e-5)

