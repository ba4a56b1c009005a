"""The conformance checks, for the backend(s) chosen with ``--samcore-backend``.

    pytest --pyargs samcore.conformance --samcore-backend NAME
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from samcore.conformance import checks
from samcore.conformance.strategies import CONFIGS, PROMPT_KINDS, case_recipes
from samcore.registry import get

#: hypothesis examples per config: the full-size one costs ~0.1-1 s a call.
EXAMPLES = {"tiny": 30, "odd": 15, "vit_b": 5}
SETTINGS = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _recipes(backend: str, config: str, **options):
    """Prompts within what the backend declares it can take."""
    capabilities = get(backend).capabilities
    kinds = PROMPT_KINDS if capabilities.mask_input else tuple(k for k in PROMPT_KINDS if "mask" not in k)
    max_batch = options.pop("max_batch", 8) if capabilities.batched_prompts else 1
    return case_recipes(config, kinds=options.pop("kinds", kinds), max_batch=max_batch, **options)


def _run(check, backend: str, config: str, examples: int, *args, **options) -> None:
    @settings(SETTINGS, max_examples=examples)
    @given(recipe=_recipes(backend, config, **options))
    def run(recipe) -> None:
        check(backend, recipe, *args)

    run()


@pytest.mark.parametrize("config", list(CONFIGS))
def test_matches_spec(samcore_backend: str, config: str) -> None:
    _run(checks.check_matches_spec, samcore_backend, config, EXAMPLES[config], labels=(-1, 0, 1, 2, 3))


@pytest.mark.parametrize("config", ["tiny", "vit_b"])
def test_lower_precisions_within_declared_tolerance(samcore_backend: str, samcore_dtype: str, config: str) -> None:
    """Each dtype besides float32 that the backend declares, against its declared tolerance."""
    _run(checks.check_matches_spec, samcore_backend, config, max(2, EXAMPLES[config] // 3), samcore_dtype)


def test_batch_independence(samcore_backend: str) -> None:
    if not get(samcore_backend).capabilities.batched_prompts:
        pytest.skip(f"{samcore_backend} decodes one prompt per call")
    _run(checks.check_batch_independence, samcore_backend, "tiny", 10, max_batch=5)


def test_single_mask_is_token_zero(samcore_backend: str) -> None:
    _run(checks.check_single_mask_is_token_zero, samcore_backend, "tiny", 10)


def test_iou_only_matches_decode(samcore_backend: str) -> None:
    _run(checks.check_iou_only_matches_decode, samcore_backend, "tiny", 10)


def test_deterministic(samcore_backend: str) -> None:
    _run(checks.check_deterministic, samcore_backend, "tiny", 5)


@pytest.mark.parametrize("bad", list(checks.BAD_CONSTRUCTIONS))
def test_refuses_bad_construction(samcore_backend: str, bad: str) -> None:
    checks.check_refuses_bad_construction(samcore_backend, bad)
