"""Predictor against Meta's SamPredictor (the same seeded weights), and its own contract.

Masks must equal Meta's except at pixels whose logit lies within 1e-3 of the threshold;
scores and low-res logits within 1e-4 x their scale; embeddings within 1e-4 x their RMS.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from samcore import Decoder, DecoderConfig, Embedding, Encoder, Predictor
from samcore.conformance.encoder_checks import ENCODER_CASES, embedding_error, encoder_case_params
from samcore.errors import InputError, InputTypeError, SamcoreError, WeightsError
from samcore.random_weights import SMALL_MODELS, random_encoder_params, random_params
from samcore.weights import convert_checkpoint

torch = pytest.importorskip("torch")
official = pytest.importorskip("samcore.conformance.official")

THRESHOLD_MARGIN = 1e-3
LOGIT_TOLERANCE = 1e-4


@dataclasses.dataclass
class Model:
    predictor: Predictor
    meta: object  # segment_anything.SamPredictor with the same weights


def _models() -> dict[str, tuple]:
    tiny_encoder, tiny_decoder = SMALL_MODELS["tiny"]
    windowed = ENCODER_CASES["windowed"].config  # 80-pixel frame, 10 x 10 grid in padded 4 x 4 windows
    small_decoder = DecoderConfig(embed_dim=16, mlp_dim=32, num_heads=2, iou_head_hidden_dim=16, mask_in_chans=8,
                                  input_image_size=(80, 80))
    return {
        "tiny": (tiny_encoder, tiny_decoder, random_encoder_params(tiny_encoder, 3)),
        "windowed": (windowed, small_decoder, encoder_case_params("windowed")),
    }


@pytest.fixture(scope="module", params=["tiny", "windowed"])
def model(request, tmp_path_factory) -> Model:
    """Meta's SamPredictor, and samcore's Predictor loaded from Meta's state_dict after
    torch.save and `samcore convert` (the encoder's config inferred from its shapes)."""
    encoder_config, decoder_config, encoder_params = _models()[request.param]
    params = random_params(decoder_config, 5) | encoder_params
    meta = official.build_official_predictor(encoder_config, decoder_config, params)
    folder = tmp_path_factory.mktemp(request.param)
    torch.save(meta.model.state_dict(), folder / "sam.pth")
    convert_checkpoint(folder / "sam.pth", folder / "sam.safetensors", config=decoder_config)
    predictor = Predictor.from_weights(folder / "sam.safetensors", backend="numpy", encoder_backend="numpy")
    assert predictor.encoder.config == encoder_config
    return Model(predictor, meta)


def _image(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A smooth picture (gradients and a disc) with noise: resizing it means something."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    disc = ((y - h / 2) ** 2 + (x - w / 3) ** 2 < (min(h, w) / 3) ** 2) * 120
    noise = np.random.default_rng(seed).integers(0, 60, (h, w, 3))
    picture = np.stack([x * 200 / w, y * 200 / h, disc], axis=-1) + noise
    return np.clip(picture, 0, 255).astype(np.uint8)


def _assert_masks_match(ours: np.ndarray, meta_logits: np.ndarray) -> None:
    decided = np.abs(meta_logits) > THRESHOLD_MARGIN
    assert ours.dtype == np.bool_ and ours.shape == meta_logits.shape
    mismatches = int((ours != (meta_logits > 0))[decided].sum())
    assert mismatches == 0, f"{mismatches} mask pixels differ from Meta's away from the threshold"


def _assert_close(name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == np.float32 and ours.shape == theirs.shape, name
    scale = max(1.0, float(np.abs(theirs).max()))
    assert np.abs(ours - theirs).max() <= LOGIT_TOLERANCE * scale, name


@pytest.mark.parametrize(("shape", "image_format"), [((37, 53), "RGB"), ((61, 29), "BGR"), ((80, 80), "RGB")])
def test_set_image_matches_meta(model: Model, shape: tuple[int, int], image_format: str) -> None:
    image = _image(shape, seed=shape[0])
    model.predictor.set_image(image, image_format)
    with torch.inference_mode():
        model.meta.set_image(image, image_format)
    assert model.predictor.original_size == tuple(model.meta.original_size)
    assert model.predictor.input_size == tuple(model.meta.input_size)
    assert embedding_error(model.predictor.get_image_embedding(), model.meta.features.numpy()) <= 1e-4


PROMPTS = {
    "one point": {"point_coords": [[20, 15]], "point_labels": [1]},
    "points": {"point_coords": [[5, 30], [22.5, 10], [0, 0]], "point_labels": [1, 0, 1]},
    "box": {"box": [3, 4, 25, 33]},
    "points and box": {"point_coords": [[10, 10]], "point_labels": [0], "box": [2, 2, 28, 20]},
}


@pytest.mark.parametrize("prompt", list(PROMPTS))
@pytest.mark.parametrize("multimask_output", [True, False])
def test_predict_matches_meta(model: Model, prompt: str, multimask_output: bool) -> None:
    image = _image((37, 53), seed=1)
    model.predictor.set_image(image)
    kwargs = {k: np.array(v) for k, v in PROMPTS[prompt].items()} | {"multimask_output": multimask_output}
    masks, scores, low_res = model.predictor.predict(**kwargs)
    with torch.inference_mode():
        model.meta.set_image(image)
        logits, meta_scores, meta_low_res = model.meta.predict(**kwargs, return_logits=True)
        # A second round fed with the best low-res logits, as SAM's interactive loop does.
        best = meta_low_res[np.argmax(meta_scores)][None]
        logits_2, scores_2, low_res_2 = model.meta.predict(**kwargs, mask_input=best, return_logits=True)
    _assert_masks_match(masks, logits)
    _assert_close("scores", scores, meta_scores)
    _assert_close("low_res", low_res, meta_low_res)
    masks, scores, low_res = model.predictor.predict(**kwargs, mask_input=best)
    _assert_masks_match(masks, logits_2)
    _assert_close("scores with mask input", scores, scores_2)
    _assert_close("low_res with mask input", low_res, low_res_2)
    logits_ours = model.predictor.predict(**kwargs, mask_input=best, return_logits=True)[0]
    _assert_close("logits", logits_ours, logits_2)


def test_predict_batch_is_predict_per_prompt(model: Model) -> None:
    model.predictor.set_image(_image((45, 31), seed=2))
    boxes = np.array([[1, 2, 20, 30], [5, 5, 30, 40], [0, 0, 31, 45]], np.float32)
    points = np.array([[[3, 4]], [[10, 20]], [[15, 15]]], np.float32)
    labels = np.array([[1], [0], [1]])
    masks, scores, low_res = model.predictor.predict_batch(points, labels, boxes, multimask_output=True)
    side = 4 * model.predictor.get_image_embedding().shape[-1]
    assert masks.shape == (3, 3, 45, 31) and scores.shape == (3, 3) and low_res.shape == (3, 3, side, side)
    for i in range(3):
        one = model.predictor.predict(points[i], labels[i], boxes[i], return_logits=True)
        _assert_close(f"prompt {i} scores", scores[i], one[1])
        _assert_masks_match(masks[i], one[0])


def test_set_embedding_from_bytes_gives_the_same_masks(model: Model) -> None:
    """The device path: an Embedding sent as float32 bytes gives identical results."""
    model.predictor.set_image(_image((37, 53), seed=1))
    expected = model.predictor.predict(point_coords=[[20, 15]], point_labels=[1])
    device = Predictor(model.predictor.decoder)
    device.set_embedding(Embedding.from_bytes(model.predictor.embedding.to_bytes("float32")))
    got = device.predict(point_coords=[[20, 15]], point_labels=[1])
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert device.original_size == (37, 53)


def test_predictor_errors(model: Model) -> None:
    device = Predictor(model.predictor.decoder)
    with pytest.raises(InputError, match="set_image: this Predictor has no image encoder"):
        device.set_image(_image((10, 10), 0))
    with pytest.raises(InputError, match=r"image: expected set_image\(\) or set_embedding\(\)"):
        device.predict(point_coords=[[1, 1]], point_labels=[1])
    with pytest.raises(InputTypeError, match=r"embedding: expected a samcore\.Embedding, got ndarray"):
        device.set_embedding(np.zeros((1, 16, 10, 10), np.float32))
    with pytest.raises(InputTypeError, match="image: expected a uint8 array"):
        model.predictor.set_image(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError, match=r"image: expected shape \[H, W, 3\]"):
        model.predictor.set_image(np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="image_format: expected one of"):
        model.predictor.set_image(_image((10, 10), 0), image_format="RGBA")
    model.predictor.set_image(_image((10, 10), 0))
    with pytest.raises(InputError, match=r"point_coords: expected shape \[N, 2\]"):
        model.predictor.predict(point_coords=[1, 1], point_labels=[1])
    with pytest.raises(InputError, match="point_labels: expected an array since point_coords is given"):
        model.predictor.predict(point_coords=[[1, 1]])
    with pytest.raises(InputTypeError, match="point_labels: expected an integer array"):
        model.predictor.predict(point_coords=[[1, 1]], point_labels=[0.5])
    as_floats = model.predictor.predict(point_coords=[[1, 1]], point_labels=np.array([1.0]))  # Meta takes these
    np.testing.assert_array_equal(as_floats[1], model.predictor.predict(point_coords=[[1, 1]], point_labels=[1])[1])


def test_encoder_and_decoder_must_fit() -> None:
    encoder_config, decoder_config = SMALL_MODELS["tiny"]
    encoder = Encoder(random_encoder_params(encoder_config), encoder_config, backend="numpy")
    other = dataclasses.replace(decoder_config, embed_dim=64, num_heads=2, iou_head_hidden_dim=32)
    with pytest.raises(WeightsError, match="encoder and decoder do not fit"):
        Predictor(Decoder(random_params(other), other, backend="numpy"), encoder)


def test_decoder_only_weights_give_a_device_predictor() -> None:
    predictor = Predictor.from_weights(backend="numpy")
    assert predictor.encoder is None
    with pytest.raises(SamcoreError, match="no image encoder"):
        predictor.set_image(_image((10, 10), 0))
