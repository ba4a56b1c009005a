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
from samcore.registry import get
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


def check_matches_spec(backend: str, recipe: CaseRecipe, dtype: str = "float32", set_image: bool = False) -> None:
    """Every output within the backend's declared tolerance of the spec, and binarised
    masks with IoU >= 0.99 (float32; lower precisions check their declared tolerance).
    With ``set_image``: the embedding is given to ``set_image`` first (its per-image work
    reused), not to ``predict``."""
    case, port = recipe.build(), decoder(backend, recipe.config, dtype)
    snippet = recipe.snippet(backend)
    if set_image:
        port.set_image(case.image_embedding)
        got = port.predict(**(case.kwargs() | {"image_embedding": None}))
    else:
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


def check_iou_only_matches_decode(backend: str, recipe: CaseRecipe) -> None:
    """``predict_iou`` (the backend's ``decode_iou``) gives ``predict``'s IoU predictions, with
    and without ``multimask_output``."""
    case, port = recipe.build(), decoder(backend, recipe.config)
    tolerance = port.backend.tolerances["float32"]["iou_predictions"]
    for multimask in (False, True):
        kwargs = case.kwargs() | {"multimask_output": multimask}
        snippet = recipe.snippet(backend) + f"# predict_iou against predict, multimask_output={multimask}\n"
        assert_within("iou_predictions", port.predict_iou(**kwargs), port.predict(**kwargs).iou_predictions,
                      tolerance, snippet)


def check_deterministic(backend: str, recipe: CaseRecipe) -> None:
    """The same call twice gives bit-identical outputs."""
    case, port = recipe.build(), decoder(backend, recipe.config)
    first, second = port.predict(**case.kwargs()), port.predict(**case.kwargs())
    for name in ("low_res_logits", "iou_predictions"):
        if not np.array_equal(getattr(first, name), getattr(second, name)):
            raise AssertionError(f"{name} differs between two identical calls\n{recipe.snippet(backend)}")


#: A parameter every config has, for the constructions below.
_KEY = "mask_decoder.iou_prediction_head.layers.0.weight"
#: Backend constructions (params, dtype) every backend must refuse with a ``SamcoreError``
#: whose message names what is wrong (the second item). ``Decoder`` checks none of these
#: for a backend constructed directly, so a backend that skips the checks fails.
BAD_CONSTRUCTIONS = {
    "undeclared dtype": (lambda params: (params, "float64"), "dtype"),
    "missing parameter": (lambda params: ({k: v for k, v in params.items() if k != _KEY}, "float32"), _KEY),
    "mis-shaped parameter": (lambda params: ({**params, _KEY: params[_KEY][:-1]}, "float32"), _KEY),
}


def check_refuses_bad_construction(backend: str, bad: str) -> None:
    """The backend class itself, constructed with ``BAD_CONSTRUCTIONS[bad]`` on its first
    device, raises a ``SamcoreError`` naming the problem (not a deep NumPy or runtime error)."""
    config = CONFIGS["tiny"][0]
    make, named = BAD_CONSTRUCTIONS[bad]
    params, dtype = make(random_params(config, WEIGHTS_SEED))
    expect_refusal(get(backend), params, config, dtype, f"{backend}: {bad}", named)


def expect_refusal(cls: type, params: dict, config: object, dtype: str, label: str, named: str) -> None:
    """``cls(params, config, device, dtype)`` on its first device raises a ``SamcoreError``
    whose message names ``named``; anything else fails with ``label``."""
    device = cls.availability().devices[0]
    try:
        cls(params, config, device, dtype)
    except SamcoreError as exc:
        if named not in str(exc):
            raise AssertionError(f"{label}: the error does not name {named!r}: {exc}") from exc
    except Exception as exc:
        raise AssertionError(f"{label}: raised {type(exc).__name__} ({exc}), not a SamcoreError") from exc
    else:
        raise AssertionError(f"{label}: {cls.__name__}({list(params)[:2]}..., dtype={dtype!r}) raised nothing")
