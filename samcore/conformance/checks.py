"""The checks every backend must pass, as plain functions of a backend name and a case.

The pytest module ``samcore.conformance.test_backend`` drives them with hypothesis;
a port's own test suite may call them directly.
"""

from __future__ import annotations

import functools

import numpy as np

from samcore.conformance.assertions import assert_masks_agree, assert_within
from samcore.conformance.strategies import CONFIGS, WEIGHTS_SEED, CaseRecipe
from samcore.decoder import Decoder
from samcore.errors import SamcoreError
from samcore.random_weights import random_params
from samcore.spec import decode_all_tokens


@functools.cache
def decoder(backend: str, config: str, dtype: str = "float32") -> Decoder:
    """A Decoder of ``backend`` with the kit's seeded weights for ``CONFIGS[config]``."""
    cfg = CONFIGS[config][0]
    return Decoder(random_params(cfg, WEIGHTS_SEED), cfg, backend=backend, dtype=dtype)


def _spec(config: str) -> Decoder:
    return decoder("numpy", config)


def check_matches_spec(backend: str, recipe: CaseRecipe, dtype: str = "float32") -> None:
    """Every output within the backend's declared tolerance of the spec, and binarised
    masks with IoU >= 0.99 (float32; lower precisions check their declared tolerance)."""
    case, port = recipe.build(), decoder(backend, recipe.config, dtype)
    snippet = recipe.snippet(backend)
    got = port.predict(**case.kwargs())
    want = _spec(recipe.config).predict(**case.kwargs())
    tolerance = port.backend.tolerances[dtype]
    assert_within("low_res_logits", got.low_res_logits, want.low_res_logits, tolerance["low_res_logits"], snippet)
    assert_within("iou_predictions", got.iou_predictions, want.iou_predictions, tolerance["iou_predictions"], snippet)
    if dtype == "float32":
        assert_masks_agree(got.low_res_logits, want.low_res_logits, snippet)


def check_batch_independence(backend: str, recipe: CaseRecipe) -> None:
    """Decoding B prompts at once equals decoding each alone (within tolerance)."""
    case, port = recipe.build(), decoder(backend, recipe.config)
    tolerance = port.backend.tolerances["float32"]
    batched = port.predict(**case.kwargs())
    for i in range(case.batch):
        alone = port.predict(**case.row(i).kwargs())
        snippet = recipe.snippet(backend) + f"# prompt {i} of the batch against the same prompt alone\n"
        for name in ("low_res_logits", "iou_predictions"):
            assert_within(name, getattr(batched, name)[i : i + 1], getattr(alone, name), tolerance[name], snippet)


def check_single_mask_is_token_zero(backend: str, recipe: CaseRecipe) -> None:
    """``multimask_output=False`` returns mask token 0 of the pass, True tokens 1.. ."""
    case, port = recipe.build(), decoder(backend, recipe.config)
    cfg = CONFIGS[recipe.config][0]
    tolerance = port.backend.tolerances["float32"]
    args = (case.image_embedding, case.point_coords, case.point_labels, case.boxes, case.mask_input)
    spec_logits, spec_iou = decode_all_tokens(_spec(recipe.config).params, cfg, *args)
    for multimask, chosen in ((False, slice(0, 1)), (True, slice(1, None))):
        out = port.predict(*args, multimask_output=multimask)
        snippet = recipe.snippet(backend) + f"# multimask_output={multimask} against tokens {chosen}\n"
        assert_within("low_res_logits", out.low_res_logits, spec_logits[:, chosen], tolerance["low_res_logits"],
                      snippet)
        assert_within("iou_predictions", out.iou_predictions, spec_iou[:, chosen], tolerance["iou_predictions"],
                      snippet)


def check_deterministic(backend: str, recipe: CaseRecipe) -> None:
    """The same call twice gives bit-identical outputs."""
    case, port = recipe.build(), decoder(backend, recipe.config)
    first, second = port.predict(**case.kwargs()), port.predict(**case.kwargs())
    for name in ("low_res_logits", "iou_predictions"):
        if not np.array_equal(getattr(first, name), getattr(second, name)):
            raise AssertionError(f"{name} differs between two identical calls\n{recipe.snippet(backend)}")


#: Bad calls (keyword overrides of a valid call) the kit expects every backend to refuse.
BAD_CALLS = {
    "label out of range": lambda c: {"point_labels": np.full_like(c.point_labels, 7)},
    "points/labels length mismatch": lambda c: {"point_labels": c.point_labels[:, :-1]},
    "nan in embedding": lambda c: {"image_embedding": np.full_like(c.image_embedding, np.nan)},
    "wrong embedding channels": lambda c: {"image_embedding": c.image_embedding[:, :-1]},
    "mask of the wrong size": lambda c: {"mask_input": np.zeros((c.batch, 1, 3, 3), np.float32)},
    "no prompt": lambda c: {"point_coords": None, "point_labels": None, "boxes": None, "mask_input": None},
}


def check_rejects_bad_input(backend: str, recipe: CaseRecipe, bad_call: str) -> None:
    """A bad call raises the same SamcoreError type and message on the port as on the spec."""
    case = recipe.build()
    kwargs = case.kwargs() | BAD_CALLS[bad_call](case)
    errors = []
    for name in (backend, "numpy"):
        try:
            decoder(name, recipe.config).predict(**kwargs)
        except SamcoreError as exc:
            errors.append((type(exc), str(exc)))
        else:
            errors.append(None)
    if errors[0] is None or errors[0] != errors[1]:
        raise AssertionError(f"{bad_call}: port raised {errors[0]}, spec raised {errors[1]}\n{recipe.snippet(backend)}")
