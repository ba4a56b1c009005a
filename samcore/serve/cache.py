"""A bounded cache of embedding payloads by content key: memory (LRU) in front of a disk folder.

Both tiers hold the float32 payload bytes (``Embedding.to_bytes("float32")``) and are
bounded in bytes; the least recently used entries go first. The disk tier survives a
restart and can be shared by the processes of one host (files are written atomically).
"""

from __future__ import annotations

import collections
import os
import re
import threading
from pathlib import Path

from samcore.cache import write_atomic
from samcore.errors import InputError

_KEY = re.compile(r"[0-9a-f]{64}")
SUFFIX = ".safetensors"


def is_key(text: str) -> bool:
    """Whether ``text`` has the form of a content key (64 lowercase hex digits)."""
    return _KEY.fullmatch(text) is not None


class EmbeddingCache:
    """key -> payload bytes, at most ``memory_bytes`` in memory and ``disk_bytes`` under ``folder``.

    Thread-safe. ``folder`` None (or ``disk_bytes`` 0) keeps the memory tier only; an
    entry larger than a tier's bound is not kept in that tier.
    """

    def __init__(self, memory_bytes: int, folder: Path | None = None, disk_bytes: int = 0) -> None:
        self.memory_bytes, self.disk_bytes = memory_bytes, disk_bytes if folder is not None else 0
        self.folder = Path(folder) if folder is not None else None
        self._memory: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._memory_used = 0
        self._lock = threading.Lock()
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> bytes | None:
        """The payload of ``key``, or None; a disk hit is promoted to memory."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        if not self.disk_bytes:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used: last to be evicted
        except FileNotFoundError:
            return None
        self._remember(key, data)
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key`` in both tiers, evicting the least recently used."""
        self._remember(key, data)
        if self.disk_bytes and len(data) <= self.disk_bytes:
            write_atomic(self._path(key), data)
            self._trim_disk()

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)

    def _path(self, key: str) -> Path:
        if not is_key(key):
            raise InputError(f"key: expected 64 lowercase hex digits, got {key!r}")
        return self.folder / f"{key}{SUFFIX}"

    def _remember(self, key: str, data: bytes) -> None:
        if len(data) > self.memory_bytes:
            return
        with self._lock:
            if key in self._memory:
                self._memory_used -= len(self._memory.pop(key))
            self._memory[key] = data
            self._memory_used += len(data)
            while self._memory_used > self.memory_bytes:
                self._memory_used -= len(self._memory.popitem(last=False)[1])

    def _trim_disk(self) -> None:
        entries = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:  # another process evicted it
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        used = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if used <= self.disk_bytes:
                break
            path.unlink(missing_ok=True)
            used -= size
