"""Optional dependencies: the distribution's name, which extra brings which module, and the
error raised when one is missing (with the ``pip install`` line that fixes it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from samcore.errors import MissingExtraError

#: The name on the package index (``pip install``); the import name stays ``samcore``.
DISTRIBUTION = "segment-anything-samcore"

#: Top-level module -> the extra that installs it (pyproject.toml's optional-dependencies).
EXTRA_OF_MODULE = {
    "torch": "torch",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "ai_edge_litert": "tflite",
    "tflite_runtime": "tflite",
    "PIL": "image",
    "scipy": "everything",
    "tqdm": "everything",
    "uvicorn": "serve",
    "starlette": "serve",
    "pytest": "conformance",
    "hypothesis": "conformance",
    # First-party backends' packages, missing when installed without them.
    "samcore_torch": "torch",
    "samcore_onnx": "onnx",
    "samcore_tflite": "tflite",
}


def pip_hint(extra: str) -> str:
    """The command that installs ``extra``, e.g. ``pip install "segment-anything-samcore[onnx]"``."""
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def optional_module(exc: ImportError) -> str | None:
    """The top-level module ``exc`` failed to import when it is an optional one (``EXTRA_OF_MODULE``)."""
    module = (exc.name or "").split(".")[0]
    return module if module in EXTRA_OF_MODULE else None


def missing_extra(needed_by: str, exc: ImportError, extra: str | None = None) -> MissingExtraError:
    """The error for ``needed_by`` failing on ``exc``; ``extra`` defaults to the one that
    installs the missing module (``EXTRA_OF_MODULE``)."""
    module = (exc.name or "").split(".")[0]
    extra = extra or EXTRA_OF_MODULE.get(module)
    fix = pip_hint(extra) if extra else f"pip install {module or 'the missing module'}"
    return MissingExtraError(f"{needed_by}: expected the {extra or module!r} extra installed, got {exc}; fix: {fix}")


@contextlib.contextmanager
def requires_extra(extra: str, needed_by: str) -> Iterator[None]:
    """Inside the block, an optional module that fails to import (``optional_module``) raises
    ``missing_extra(needed_by, ..., extra)``; other import errors pass unchanged."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if optional_module(exc) is None:
            raise
        raise missing_extra(needed_by, exc, extra) from None
