"""The image encoder conformance checks, for each backend registered under ``samcore.encoders``
(or those named with ``--samcore-backend`` that have an encoder).

    pytest --pyargs samcore.conformance --samcore-backend NAME
"""

from __future__ import annotations

import pytest

from samcore.conformance import encoder_checks

SMALL = [name for name in encoder_checks.ENCODER_CASES if name != "vit_b"]


@pytest.mark.parametrize("case", SMALL)
def test_encoder_matches_spec(samcore_encoder_backend: str, case: str) -> None:
    encoder_checks.check_encoder_matches_spec(samcore_encoder_backend, case)


@pytest.mark.slow
def test_encoder_matches_spec_vit_b(samcore_encoder_backend: str) -> None:
    """The official size at its 1024 frame, one image."""
    if samcore_encoder_backend == "numpy":
        pytest.skip("the numpy encoder is the spec itself: nothing to compare at this size")
    encoder_checks.check_encoder_matches_spec(samcore_encoder_backend, "vit_b", batch=1)


def test_encoder_lower_precisions_within_declared_tolerance(samcore_encoder_backend: str,
                                                            samcore_encoder_dtype: str) -> None:
    encoder_checks.check_encoder_matches_spec(samcore_encoder_backend, "windowed", samcore_encoder_dtype)


def test_encoder_batch_independence(samcore_encoder_backend: str) -> None:
    encoder_checks.check_encoder_batch_independence(samcore_encoder_backend, "resized")


def test_encoder_deterministic(samcore_encoder_backend: str) -> None:
    encoder_checks.check_encoder_deterministic(samcore_encoder_backend, "windowed")


@pytest.mark.parametrize("bad", sorted(encoder_checks.BAD_ENCODER_CONSTRUCTIONS))
def test_encoder_refuses_bad_construction(samcore_encoder_backend: str, bad: str) -> None:
    encoder_checks.check_encoder_refuses_bad_construction(samcore_encoder_backend, bad)
