"""The conformance kit itself: its checks can fail, and a misspelled backend is an error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from samcore.backend import Availability, Backend
from samcore.conformance import checks
from samcore.registry import BACKENDS, register


class Careless(Backend):
    """Decodes nothing and checks nothing: it skips ``Backend.__init__``'s refusals."""

    name = "careless-test-backend"

    def __init__(self, params, config, device, dtype) -> None:
        self.params, self.config, self.device, self.dtype = params, config, device, dtype

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True, devices=("cpu",))

    def decode(self, image_embedding, prompts, multimask_output):
        return np.zeros((prompts.batch, 1, 1, 1), np.float32), np.zeros((prompts.batch, 1), np.float32)


@pytest.fixture
def careless():
    register(Careless)
    yield Careless.name
    del BACKENDS._extra[Careless.name]


@pytest.mark.parametrize("bad", list(checks.BAD_CONSTRUCTIONS))
def test_refusal_checks_fail_a_backend_that_does_not_refuse(careless, bad) -> None:
    with pytest.raises(AssertionError, match="raised nothing"):
        checks.check_refuses_bad_construction(careless, bad)


@pytest.mark.parametrize("bad", list(checks.BAD_CONSTRUCTIONS))
def test_refusal_checks_pass_the_numpy_backend(bad) -> None:
    checks.check_refuses_bad_construction("numpy", bad)


def test_an_unknown_backend_is_a_usage_error(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "samcore.conformance", "--samcore-backend", "nmupy", "-q",
         "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "--samcore-backend nmupy" in result.stderr and "unknown name 'nmupy'" in result.stderr
