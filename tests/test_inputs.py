"""Bad input gets a SamcoreError naming the argument, what was expected and what came."""

from __future__ import annotations

import numpy as np
import pytest

from samcore import apply_boxes, apply_coords, binary_masks, postprocess_masks, preprocess_shape
from samcore.decoder import DecoderOutput
from samcore.errors import InputError, InputTypeError, SamcoreError

C, GRID, FRAME = 32, 8, 128
rng = np.random.default_rng(0)
EMB = rng.standard_normal((1, C, GRID, GRID)).astype(np.float32)
COORDS = np.array([[[10.0, 20.0], [30.0, 40.0]]], np.float32)
LABELS = np.array([[1, 0]])
BOX = np.array([[10.0, 10.0, 50.0, 60.0]], np.float32)
MASK = np.zeros((1, 1, 4 * GRID, 4 * GRID), np.float32)


def nan_at(array: np.ndarray, value: float = np.nan) -> np.ndarray:
    bad = array.copy()
    bad.flat[-1] = value
    return bad


BAD_INPUTS = {
    "embedding wrong channels": (dict(image_embedding=EMB[:, :16]), InputError, ["image_embedding", "[1, 32, h, w]"]),
    "embedding batch of 2": (dict(image_embedding=np.concatenate([EMB, EMB])), InputError, ["image_embedding"]),
    "embedding 2-d": (dict(image_embedding=EMB[0, 0]), InputError, ["image_embedding", "[8, 8]"]),
    "embedding int": (dict(image_embedding=EMB.astype(np.int32)), InputTypeError, ["image_embedding", "int32"]),
    "embedding nan": (dict(image_embedding=nan_at(EMB)), InputError, ["image_embedding", "finite", "nan"]),
    "embedding inf": (dict(image_embedding=nan_at(EMB, np.inf)), InputError, ["image_embedding", "inf"]),
    "no prompt": (dict(point_coords=None, point_labels=None), InputError, ["none of them"]),
    "labels missing": (dict(point_labels=None), InputError, ["point_labels", "None"]),
    "coords missing": (dict(point_coords=None), InputError, ["point_coords", "None"]),
    "coords unbatched": (dict(point_coords=COORDS[0], point_labels=LABELS[0]), InputError, ["point_coords", "[2, 2]"]),
    "coords zero points": (dict(point_coords=COORDS[:, :0], point_labels=LABELS[:, :0]), InputError, ["N >= 1"]),
    "coords three values": (dict(point_coords=np.zeros((1, 2, 3))), InputError, ["point_coords", "[1, 2, 3]"]),
    "length mismatch": (dict(point_labels=np.array([[1, 0, 1]])), InputError, ["point_labels", "[1, 2]", "[1, 3]"]),
    "label 4": (dict(point_labels=np.array([[1, 4]])), InputError, ["point_labels", "-1..3", "[4]"]),
    "label -2": (dict(point_labels=np.array([[-2, 1]])), InputError, ["point_labels", "[-2]"]),
    "fractional labels": (dict(point_labels=np.array([[1.5, 0.0]])), InputError, ["point_labels", "integer", "1.5"]),
    "nan labels": (dict(point_labels=np.array([[np.nan, 0.0]])), InputError, ["point_labels", "integer", "nan"]),
    "bool labels": (dict(point_labels=np.array([[True, False]])), InputTypeError, ["point_labels", "bool"]),
    "string coords": (dict(point_coords=np.array([[["a", "b"], ["c", "d"]]])), InputTypeError, ["point_coords"]),
    "ragged coords": (dict(point_coords=[[[1.0, 2.0], [3.0]]]), InputTypeError, ["point_coords"]),
    "nan coords": (dict(point_coords=nan_at(COORDS)), InputError, ["point_coords", "finite"]),
    "coords outside frame": (dict(point_coords=COORDS * 10), InputError, ["point_coords", "0..128", "[100.0, 200.0]"]),
    "negative coords": (dict(point_coords=-COORDS), InputError, ["point_coords", "inside the input frame"]),
    "box shape": (dict(boxes=BOX[:, :3]), InputError, ["boxes", "[B, 4]", "[1, 3]"]),
    "box reversed": (dict(boxes=BOX[:, [2, 3, 0, 1]]), InputError, ["boxes", "x0 <= x1"]),
    "box nan": (dict(boxes=nan_at(BOX)), InputError, ["boxes", "finite"]),
    "box outside": (dict(boxes=BOX * 4), InputError, ["boxes", "inside the input frame"]),
    "batch mismatch": (dict(boxes=np.concatenate([BOX, BOX])), InputError, ["batch size", "'boxes': 2"]),
    "mask wrong size": (dict(mask_input=MASK[..., :16, :16]), InputError, ["mask_input", "[B, 1, 32, 32]"]),
    "mask two channels": (dict(mask_input=np.zeros((1, 2, 32, 32), np.float32)), InputError, ["mask_input"]),
    "mask nan": (dict(mask_input=nan_at(MASK)), InputError, ["mask_input", "finite"]),
    "mask int": (dict(mask_input=MASK.astype(np.int8)), InputTypeError, ["mask_input", "int8"]),
    "mask batch mismatch": (dict(mask_input=np.zeros((2, 1, 32, 32), np.float32)), InputError, ["'mask_input': 2"]),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_refused_with_a_clear_message(tiny_decoder, name: str) -> None:
    overrides, error, fragments = BAD_INPUTS[name]
    kwargs = dict(image_embedding=EMB, point_coords=COORDS, point_labels=LABELS) | overrides
    with pytest.raises(error) as info:
        tiny_decoder.predict(**kwargs)
    assert isinstance(info.value, SamcoreError)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in message: {info.value}"


def test_good_variants_are_accepted(tiny_decoder) -> None:
    """[C, h, w] embeddings, float64/int coords, int32 and integral float labels (Meta's predictor
    casts them), edge-of-frame points, lists."""
    base = tiny_decoder.predict(EMB, COORDS, LABELS)
    variants = [
        dict(image_embedding=EMB[0]),
        dict(image_embedding=EMB.astype(np.float64)),
        dict(point_coords=COORDS.astype(np.float64), point_labels=LABELS.astype(np.int32)),
        dict(point_coords=COORDS.tolist(), point_labels=LABELS.tolist()),
        dict(point_labels=LABELS.astype(np.float32)),
    ]
    for overrides in variants:
        out = tiny_decoder.predict(**(dict(image_embedding=EMB, point_coords=COORDS, point_labels=LABELS) | overrides))
        np.testing.assert_allclose(out.low_res_logits, base.low_res_logits, atol=1e-6)
    edge = tiny_decoder.predict(EMB, [[[0.0, 0.0], [FRAME, FRAME]]], [[1, -1]], boxes=[[0, 0, FRAME, FRAME]])
    assert edge.low_res_logits.shape == (1, 3, 32, 32)
    mask_only = tiny_decoder.predict(EMB, mask_input=MASK)
    assert mask_only.iou_predictions.shape == (1, 3)


BAD_SIZES = {
    "zero": ((0, 0), InputError),
    "negative": ((-1, 5), InputError),
    "fractional": ((480.5, 640), InputError),
    "three values": ((1, 2, 3), InputError),
    "a string": ("480x640", InputTypeError),
    "None": (None, InputTypeError),
}
SIZE_CALLS = {
    "DecoderOutput.masks": lambda size: DecoderOutput(np.zeros((1, 3, 32, 32), np.float32),
                                                      np.zeros((1, 3), np.float32), (128, 128)).masks(size),
    "apply_coords": lambda size: apply_coords(np.ones((1, 2)), size),
    "apply_boxes": lambda size: apply_boxes(np.ones((1, 4)), size),
    "postprocess_masks": lambda size: postprocess_masks(np.zeros((1, 1, 8, 8), np.float32), size),
    "binary_masks": lambda size: binary_masks(np.zeros((1, 1, 8, 8), np.float32), size),
    "preprocess_shape": lambda size: preprocess_shape(size),
}


@pytest.mark.parametrize("call", list(SIZE_CALLS))
@pytest.mark.parametrize("size", list(BAD_SIZES))
def test_bad_image_sizes_are_samcore_errors(call: str, size: str) -> None:
    """Not ZeroDivisionError, not a silently empty mask."""
    value, error = BAD_SIZES[size]
    with pytest.raises(error, match="original_size: expected \\(H, W\\), two integers >= 1") as info:
        SIZE_CALLS[call](value)
    assert isinstance(info.value, SamcoreError)


def test_transforms_check_coordinate_shapes() -> None:
    with pytest.raises(InputError, match=r"coords: expected numbers \[\.\.\., 2\].*\[1, 3\]"):
        apply_coords(np.ones((1, 3)), (480, 640))
    with pytest.raises(InputError, match=r"boxes: expected numbers \[\.\.\., 4\].*\[3\]"):
        apply_boxes([1, 2, 3], (480, 640))
    with pytest.raises(InputTypeError, match="coords"):
        apply_coords([["a", "b"]], (480, 640))
    assert apply_coords(np.array([[320.0, 240.0]]), (480.0, 640.0)).tolist() == [[512.0, 384.0]]


def test_decoder_repr_says_what_it_runs(tiny_decoder) -> None:
    text = repr(tiny_decoder)
    for fragment in ("Decoder(", "backend='numpy'", "device='cpu'", "dtype='float32'", f"embed_dim={C}", "image="):
        assert fragment in text, text
