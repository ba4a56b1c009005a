"""The ONNX image encoder: the spec traced into one graph, against the spec and Meta's module.

The conformance kit holds OnnxEncoder to the spec at every small config
(samcore/conformance/test_encoder.py); these tests cover the shipped file
(`samcore export onnx W --part encoder`), its dynamic batch, the cache and large-model
external data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'samcore[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'samcore[onnx]')")

from samcore_onnx import OnnxEncoder, encoder_export, export_encoder_onnx  # noqa: E402
from samcore_onnx.cache import encoder_cache_path  # noqa: E402

from samcore.cli import main  # noqa: E402
from samcore.conformance.encoder_checks import (  # noqa: E402
    ENCODER_CASES,
    embedding_error,
    encoder_case_images,
    encoder_case_params,
)
from samcore.encoder_backend import FLOAT32_RMS_TOLERANCE  # noqa: E402
from samcore.errors import WeightsError  # noqa: E402
from samcore.graph.emitters import onnxruntime as ort_emitters  # noqa: E402
from samcore.spec.image_encoder import image_encoder  # noqa: E402
from samcore.weights import encoder_params_sha256, load_encoder_params  # noqa: E402

pytestmark = pytest.mark.usefixtures("cache_folder")  # every export of this module: a fresh folder
CPU = ["CPUExecutionProvider"]


def _run(path, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=CPU)
    return session.run(None, {"images": images})[0]


def test_cli_export_runs_any_batch_like_the_spec(tmp_path) -> None:
    """`samcore export onnx W --part encoder` writes a model whose embeddings of 1 and 3 images
    (one file: the batch is dynamic) are the spec's within 1e-4 of their RMS."""
    weights, out = tmp_path / "tiny.safetensors", tmp_path / "encoder.onnx"
    assert main(["random-weights", str(weights), "--preset", "tiny", "--encoder", "--seed", "3"]) == 0
    assert main(["export", "onnx", str(weights), "--part", "encoder", "-o", str(out)]) == 0
    params, config = load_encoder_params(weights)
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        images = rng.standard_normal((batch, 3, config.img_size, config.img_size)).astype(np.float32)
        got = _run(out, images)
        assert embedding_error(got, image_encoder(params, images, config)) <= FLOAT32_RMS_TOLERANCE
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["samcore.weights_sha256"] == encoder_params_sha256(params, config)
    assert json.loads(meta["samcore.encoder_config"])["img_size"] == config.img_size


def test_matches_meta_image_encoder() -> None:
    """The traced graph against Meta's ImageEncoderViT (interpolated rel-pos tables, padded windows)."""
    torch = pytest.importorskip("torch")
    official = pytest.importorskip("samcore.conformance.official")
    name = "resized"
    case, params = ENCODER_CASES[name], encoder_case_params(name)
    images = encoder_case_images(name, 2, seed=6)
    with torch.inference_mode():
        expected = official.build_official_image_encoder(case.config, params)(torch.from_numpy(images)).numpy()
    got = OnnxEncoder(params, case.config, "cpu", "float32").encode(images)
    assert embedding_error(got, expected) <= OnnxEncoder.tolerances["float32"]


def test_cached_graph_is_reused_and_a_broken_one_replaced() -> None:
    """A second backend with the same weights opens the cached file (no export); a truncated
    cache file is exported again."""
    name = "windowed"
    case, params = ENCODER_CASES[name], encoder_case_params(name)
    images = encoder_case_images(name, 1, seed=1)
    first = OnnxEncoder(params, case.config, "cpu", "float32").encode(images)
    exports = OnnxEncoder.exports
    again = OnnxEncoder(params, case.config, "cpu", "float32")
    np.testing.assert_array_equal(again.encode(images), first)
    assert OnnxEncoder.exports == exports
    path = encoder_cache_path(again.weights_sha256, case.config, opset=OnnxEncoder.opset)
    path.write_bytes(path.read_bytes()[:1000])
    np.testing.assert_array_equal(OnnxEncoder(params, case.config, "cpu", "float32").encode(images), first)
    assert OnnxEncoder.exports == exports + 1


def test_large_weights_go_to_external_data(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EXTERNAL_DATA_BYTES (ViT-H's 2.5 GB pass protobuf's 2 GB) the weights sit in a .data
    file beside the model, which still loads and computes the same embedding."""
    name = "global"
    case, params = ENCODER_CASES[name], encoder_case_params(name)
    images = encoder_case_images(name, 1, seed=2)
    inline, external = tmp_path / "inline.onnx", tmp_path / "external.onnx"
    export_encoder_onnx(params, case.config, inline)
    monkeypatch.setattr(encoder_export, "EXTERNAL_DATA_BYTES", 0)
    export_encoder_onnx(params, case.config, external)
    assert not (tmp_path / "inline.onnx.data").exists()
    assert (tmp_path / "external.onnx.data").stat().st_size > external.stat().st_size
    np.testing.assert_array_equal(_run(external, images), _run(inline, images))


def test_missing_parameter_is_named() -> None:
    """A missing key is a WeightsError naming it."""
    name = "windowed"
    params = dict(encoder_case_params(name))
    del params["image_encoder.blocks.1.attn.proj.weight"]
    with pytest.raises(WeightsError, match=r"blocks\.1\.attn\.proj\.weight"):
        export_encoder_onnx(params, ENCODER_CASES[name].config)


def test_attention_in_query_chunks_equals_whole(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A score budget below one query row's scores (every global block attended row chunk by
    row chunk, one chunk a partial one) gives the whole graph's embedding and the spec's."""
    name = "resized"  # global blocks over a 12 x 12 grid with interpolated rel-pos tables
    case, params = ENCODER_CASES[name], encoder_case_params(name)
    images = encoder_case_images(name, 2, seed=7)
    whole, chunked = tmp_path / "whole.onnx", tmp_path / "chunked.onnx"
    export_encoder_onnx(params, case.config, whole)
    grid = case.config.grid_size
    monkeypatch.setattr(ort_emitters, "SCORE_CHUNK_BYTES", 5 * case.config.num_heads * grid**3 * 4)
    model = export_encoder_onnx(params, case.config, chunked)
    assert len(model.graph.node) > len(onnx.load(str(whole)).graph.node)  # the chunks are there
    got = _run(chunked, images)
    assert embedding_error(got, _run(whole, images)) <= 1e-6
    assert embedding_error(got, image_encoder(params, images, case.config)) <= FLOAT32_RMS_TOLERANCE


def test_cli_refuses_decoder_options_for_the_encoder(tmp_path, capsys: pytest.CaptureFixture) -> None:
    """`--part encoder` with a decoder-only option fails, naming the option; nothing is written."""
    weights, out = tmp_path / "tiny.safetensors", tmp_path / "encoder.onnx"
    assert main(["random-weights", str(weights), "--preset", "tiny", "--encoder"]) == 0
    assert main(["export", "onnx", str(weights), "--part", "encoder", "--interface", "meta", "-o", str(out)]) == 1
    assert "--interface meta" in capsys.readouterr().err
    assert not out.exists()


def test_decoder_only_exporter_has_no_encoder_part(tmp_path, capsys: pytest.CaptureFixture) -> None:
    """An exporter without "encoder" in its parts refuses ``export_encoder`` (an InputError) and
    its ``samcore export`` subcommand has no --part."""
    from samcore.errors import InputError
    from samcore.registry import exporters

    tflite = exporters()["tflite"]
    if isinstance(tflite, str):
        pytest.skip(f"the tflite exporter is unusable here: {tflite}")
    assert "encoder" not in tflite.parts
    name = "windowed"
    with pytest.raises(InputError, match="image-encoder export"):
        tflite.export_encoder(encoder_case_params(name), ENCODER_CASES[name].config, tmp_path / "x.tflite", None)
    weights = tmp_path / "w.safetensors"
    weights.touch()
    with pytest.raises(SystemExit):
        main(["export", "tflite", str(weights), "--points", "2", "--part", "encoder", "-o", str(tmp_path / "x.tflite")])
    assert "unrecognized arguments: --part encoder" in capsys.readouterr().err
