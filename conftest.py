"""Repository-wide pytest set-up: exported graphs go to a per-run cache folder,
never to the user's ``~/.cache/samcore``."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if "SAMCORE_CACHE" not in os.environ:
        os.environ["SAMCORE_CACHE"] = tempfile.mkdtemp(prefix="samcore-test-cache-")
