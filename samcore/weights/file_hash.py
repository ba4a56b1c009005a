"""A weights file's sha256: the id an `Embedding` and the service record, remembered per file
version so that loading the same multi-GB checkpoint again does not read it all again."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re

from samcore.cache import cache_dir, write_atomic

#: Cache kind of the remembered digests (one small ``.sha256`` file per file version).
KIND = "hashes"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remembered_sha256(path: str | os.PathLike) -> str:
    """``sha256_file(path)``, read from the cache when this version of the file was hashed before.

    A version is the real path, size, modification time (ns), inode and device: a file
    rewritten in place or replaced gets hashed again. The cache entry is written
    atomically; an unreadable or malformed one is recomputed and replaced.
    """
    real = os.path.realpath(path)
    stat = os.stat(real)
    version = f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}\0{stat.st_dev}"
    entry = cache_dir(KIND) / f"{hashlib.sha256(version.encode()).hexdigest()[:32]}.sha256"
    try:
        remembered = entry.read_text().strip()
        if _HEX64.fullmatch(remembered):
            return remembered
    except OSError:
        pass
    digest = sha256_file(real)
    with contextlib.suppress(OSError):  # a read-only cache: hashing each load is still correct
        write_atomic(entry, digest.encode())
    return digest
