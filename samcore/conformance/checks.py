"""The checks every backend must pass, as plain functions of a backend name and a case.

The pytest module ``samcore.conformance.test_backend`` drives them with hypothesis;
a port's own test suite may call them directly.
"""

from __future__ import annotations

import functools

import numpy as np

from samcore.conformance.assertions import assert_masks_agree, assert_within
from samcore.conformance.strategies import CONFIGS, WEIGHTS_SEED, Case, CaseRecipe
from samcore.decoder import Decoder
from samcore.errors import SamcoreError
from samcore.inputs import check_embedding, check_prompts
from samcore.random_weights import random_params
from samcore.spec import decode, decode_all_tokens


@functools.cache
def decoder(backend: str, config: str, dtype: str = "float32") -> Decoder:
    """A Decoder of ``backend`` with the kit's seeded weights for ``CONFIGS[config]``."""
    cfg = CONFIGS[config][0]
    return Decoder(random_params(cfg, WEIGHTS_SEED), cfg, backend=backend, dtype=dtype)


def spec_outputs(port: Decoder, case: Case, all_tokens: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """What the spec computes for ``case`` on ``port``'s weights: (logits, IoU) of the
    selected masks, or of every mask token with ``all_tokens``."""
    embedding = check_embedding(case.image_embedding, port.config.embed_dim)
    grid = embedding.shape[-2:]
    prompts = check_prompts(case.point_coords, case.point_labels, case.boxes, case.mask_input, grid,
                            port.config.frame_size(grid))
    args = (port.params, port.config, embedding, prompts.point_coords, prompts.point_labels, prompts.boxes,
            prompts.mask_input)
    return decode_all_tokens(*args) if all_tokens else decode(*args, case.multimask_output)


def check_matches_spec(backend: str, recipe: CaseRecipe, dtype: str = "float32") -> None:
    """Every output within the backend's declared tolerance of the spec, and binarised
    masks with IoU >= 0.99 (float32; lower precisions check their declared tolerance)."""
    case, port = recipe.build(), decoder(backend, recipe.config, dtype)
    snippet = recipe.snippet(backend)
    got = port.predict(**case.kwargs())
    logits, iou = spec_outputs(port, case)
    tolerance = port.backend.tolerances[dtype]
    assert_within("low_res_logits", got.low_res_logits, logits, tolerance["low_res_logits"], snippet)
    assert_within("iou_predictions", got.iou_predictions, iou, tolerance["iou_predictions"], snippet)
    if dtype == "float32":
        assert_masks_agree(got.low_res_logits, logits, snippet)


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
    tolerance = port.backend.tolerances["float32"]
    spec_logits, spec_iou = spec_outputs(port, case, all_tokens=True)
    for multimask, chosen in ((False, slice(0, 1)), (True, slice(1, None))):
        out = port.predict(**(case.kwargs() | {"multimask_output": multimask}))
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
