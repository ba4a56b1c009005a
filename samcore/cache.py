"""The on-disk cache that backends keep exported models in (shared by every backend).

The folder is ``$SAMCORE_CACHE`` when set, else ``~/.cache/samcore/<kind>``. Files
are written atomically (a temporary file in the same folder, then a rename), so
concurrent processes at worst export twice. A backend names its files by weights
hash, export options, samcore's version and ``source_fingerprint`` of the code that
exported them, so a change to that code never reuses an old file. Weights files' digests are
remembered here too (``samcore.weights.remembered_sha256``). ``samcore cache info``
shows the folder and its size, ``samcore cache clear`` empties it (``clear_cache``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The kinds of file backends export into the cache (``clear_cache`` removes only these;
#: ``.data``: a large ONNX model's external weights; ``.sha256``: a weights file's remembered digest).
CACHED_SUFFIXES = (".onnx", ".tflite", ".data", ".tmp", ".sha256")


def cache_root() -> Path:
    """The cache folder: ``$SAMCORE_CACHE`` when set, else ``~/.cache/samcore``."""
    configured = os.environ.get("SAMCORE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "samcore"


def cache_dir(kind: str) -> Path:
    """Where a backend's exported files live (``kind``: "onnx", "tflite", ...): ``$SAMCORE_CACHE``
    itself when set, else ``~/.cache/samcore/<kind>``."""
    return cache_root() if os.environ.get("SAMCORE_CACHE") else cache_root() / kind


def cached_files() -> list[Path]:
    """The cached files (``CACHED_SUFFIXES``, in the cache folder or one level
    below), sorted by path; other files there are not samcore's and are left out."""
    root = cache_root()
    if not root.is_dir():
        return []
    candidates = [*root.iterdir(), *(f for d in root.iterdir() if d.is_dir() for f in d.iterdir())]
    return sorted(f for f in candidates if f.is_file() and f.suffix in CACHED_SUFFIXES)


def clear_cache() -> tuple[int, int]:
    """Delete the cached files (``cached_files``) and the kind folders left empty:
    (files removed, bytes freed). Backends export again on next use."""
    files = cached_files()
    freed = 0
    for f in files:
        freed += f.stat().st_size
        f.unlink()
    root = cache_root()
    for folder in {f.parent for f in files} - {root}:
        if not any(folder.iterdir()):
            folder.rmdir()
    return len(files), freed


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable by all, replacing any old file in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp made it private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@functools.cache
def source_fingerprint(*packages: str) -> str:
    """Short sha256 of the ``.py`` sources of ``packages`` (e.g. the spec and an exporter)."""
    digest = hashlib.sha256()
    for package in packages:
        folder = Path(importlib.import_module(package).__file__).parent
        for source in sorted(folder.rglob("*.py")):
            digest.update(source.relative_to(folder).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def open_cached(
    path: Path, weights_sha256: str, load: Callable[[Path], tuple[Any, str | None]], export: Callable[[], None]
) -> tuple[Any, bool]:
    """(handle of the cached file ``path``, whether it was exported now): ``load`` gives a
    handle and the weights hash the file records; on a miss, or when the file does not open
    or records other weights, ``export`` writes it (atomically) and it is loaded again."""
    if path.exists():
        try:
            handle, weights = load(path)
            if weights == weights_sha256:
                return handle, False
        except Exception:  # a truncated or foreign file: export again
            pass
    export()
    return load(path)[0], True
