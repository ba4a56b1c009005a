"""Repository-wide pytest set-up: exported graphs go to a per-run cache folder, never to the
user's ``~/.cache/samcore``, and that folder is deleted when the run ends."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

#: The cache folder this run made (None when $SAMCORE_CACHE was set by the caller: theirs to keep).
_CACHE = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_CACHE] = None
    if "SAMCORE_CACHE" not in os.environ:
        config.stash[_CACHE] = os.environ["SAMCORE_CACHE"] = tempfile.mkdtemp(prefix="samcore-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    made = config.stash.get(_CACHE, None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("SAMCORE_CACHE", None)
