"""The image encoder spec against Meta's ImageEncoderViT, and its config and weights.

Weights: seeded random (norm scales perturbed around 1), relative-position tables
stored at other lengths in the "resized" case so that Meta's interpolation runs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import record_parity
from samcore.config import ENCODER_PRESETS, EncoderConfig, encoder_shapes
from samcore.conformance.encoder_checks import (
    ENCODER_CASES,
    embedding_error,
    encoder_case_images,
    encoder_case_params,
)
from samcore.encoder_config import ENCODER_METADATA_KEY
from samcore.errors import WeightsError
from samcore.spec.image_encoder import get_rel_pos, image_encoder, window_partition, window_unpartition
from samcore.weights import encoder_params, load_encoder_params, save_tensors

torch = pytest.importorskip("torch")
official = pytest.importorskip("samcore.conformance.official")

#: float32 embeddings: max |samcore - Meta| within this x the RMS of Meta's embedding.
RMS_TOLERANCE = 1e-4


def meta_embedding(name: str, images: np.ndarray) -> np.ndarray:
    encoder = official.build_official_image_encoder(ENCODER_CASES[name].config, encoder_case_params(name))
    with torch.inference_mode():
        return encoder(torch.from_numpy(images)).numpy()


@pytest.mark.parametrize("name", ["windowed", "resized", "global"])
def test_spec_matches_meta(name: str) -> None:
    config = ENCODER_CASES[name].config
    images = encoder_case_images(name, batch=2, seed=5)
    ours = image_encoder(encoder_case_params(name), images, config)
    theirs = meta_embedding(name, images)
    assert ours.shape == theirs.shape == (2, config.out_chans, config.grid_size, config.grid_size)
    assert ours.dtype == np.float32
    record_parity("image embedding / RMS", ours / np.sqrt(np.mean(theirs**2)), theirs / np.sqrt(np.mean(theirs**2)))
    assert embedding_error(ours, theirs) <= RMS_TOLERANCE


@pytest.mark.slow
def test_spec_matches_meta_vit_b() -> None:
    """The ViT-B preset at its 1024 frame, one image."""
    images = encoder_case_images("vit_b", batch=1, seed=5)
    ours = image_encoder(encoder_case_params("vit_b"), images, ENCODER_CASES["vit_b"].config)
    assert embedding_error(ours, meta_embedding("vit_b", images)) <= RMS_TOLERANCE


@pytest.mark.parametrize(("q_size", "k_size", "length"), [(4, 4, 7), (5, 5, 13), (5, 5, 5), (3, 6, 11), (6, 3, 9)])
def test_get_rel_pos_matches_meta(q_size: int, k_size: int, length: int) -> None:
    """Meta's gather of relative positions, with F.interpolate when the table's length differs."""
    table = np.random.default_rng(length).standard_normal((length, 8)).astype(np.float32)
    theirs = official.modeling.image_encoder.get_rel_pos(q_size, k_size, torch.from_numpy(table)).numpy()
    ours = get_rel_pos(q_size, k_size, table)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_window_partition_round_trip_and_padding() -> None:
    x = np.random.default_rng(0).standard_normal((2, 5, 7, 3)).astype(np.float32)
    windows = window_partition(x, 4)
    assert windows.shape == (2 * 2 * 2, 4, 4, 3)
    np.testing.assert_array_equal(windows[1, :, 3:], 0)  # columns 7.. of the first image's second window
    np.testing.assert_array_equal(window_unpartition(windows, 4, 2, (5, 7)), x)


def meta_state_shapes(config: EncoderConfig) -> dict[str, tuple[int, ...]]:
    """Key -> shape of Meta's ImageEncoderViT state_dict for ``config``, with official prefixes."""
    params = {k: np.zeros(s, np.float32) for k, s in encoder_shapes(config).items()}
    module = official.build_official_image_encoder(config, params)
    return {f"image_encoder.{k}": tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("name", ["windowed", "global"])
def test_shapes_are_metas(name: str) -> None:
    config = ENCODER_CASES[name].config
    assert encoder_shapes(config) == meta_state_shapes(config)


@pytest.mark.parametrize("preset", sorted(ENCODER_PRESETS))
def test_preset_shapes_and_inference(preset: str) -> None:
    """Each preset's layout is Meta's build_sam_vit_*'s (parameter count), and shapes alone
    tell the whole config back (windows and global blocks from the rel-pos tables)."""
    config = ENCODER_PRESETS[preset]
    shapes = encoder_shapes(config)
    expected_millions = {"sam_vit_b": 89.67, "sam_vit_l": 308.28, "sam_vit_h": 637.03}[preset]
    assert sum(int(np.prod(s)) for s in shapes.values()) / 1e6 == pytest.approx(expected_millions, abs=0.01)
    assert EncoderConfig.from_shapes(shapes) == config


def test_inference_from_metas_module() -> None:
    config = ENCODER_CASES["windowed"].config
    assert EncoderConfig.from_shapes(meta_state_shapes(config)) == config


def test_metadata_tells_what_shapes_cannot(tmp_path) -> None:
    """Tables stored at other lengths hide the window size: the metadata keeps it."""
    name = "resized"
    config, params = ENCODER_CASES[name].config, encoder_case_params(name)
    assert EncoderConfig.from_params(params) != config
    save_tensors(tmp_path / "enc.safetensors", params, config.metadata())
    loaded, loaded_config = load_encoder_params(tmp_path / "enc.safetensors")
    assert loaded_config == config
    assert sorted(loaded) == sorted(params)
    assert ENCODER_METADATA_KEY in config.metadata()


def test_wrong_shape_is_named() -> None:
    config = ENCODER_CASES["windowed"].config
    params = dict(encoder_case_params("windowed"))
    params["image_encoder.blocks.1.mlp.lin1.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(WeightsError, match=r"blocks\.1\.mlp\.lin1\.weight: expected shape \[128, 32\], got \[3, 3\]"):
        encoder_params(params, config)


def test_missing_and_unexpected_keys_are_named() -> None:
    config = ENCODER_CASES["windowed"].config
    params = dict(encoder_case_params("windowed"))
    del params["image_encoder.neck.3.bias"]
    params["image_encoder.extra"] = np.zeros(1, np.float32)
    with pytest.raises(WeightsError, match=r"missing keys \['image_encoder\.neck\.3\.bias'\].*unexpected keys"):
        encoder_params(params, config)


def test_bad_config_is_refused() -> None:
    with pytest.raises(WeightsError, match="num_heads=5 must divide embed_dim=32"):
        dataclasses.replace(ENCODER_CASES["windowed"].config, num_heads=5)
    with pytest.raises(WeightsError, match="global_attn_indexes"):
        dataclasses.replace(ENCODER_CASES["windowed"].config, global_attn_indexes=(7,))


@pytest.mark.parametrize("name", ["windowed", "resized"])
def test_spec_traces_to_an_onnx_graph(name: str) -> None:
    """The spec is written in the export-friendly form: the ONNX tracer runs it as is, with a
    dynamic batch, and ONNX Runtime computes the spec's embedding."""
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("samcore_onnx.emitters")
    from samcore_onnx.tracer import Graph

    config, params = ENCODER_CASES[name].config, encoder_case_params(name)
    graph = Graph(17)
    images = graph.input("images", np.float32, ("B", 3, config.img_size, config.img_size))
    graph.output(image_encoder(params, images, config), "embedding")
    session = onnxruntime.InferenceSession(graph.model("encoder", "test").SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        data = encoder_case_images(name, batch, seed=batch)
        got = session.run(None, {"images": data})[0]
        assert embedding_error(got, image_encoder(params, data, config)) <= RMS_TOLERANCE
