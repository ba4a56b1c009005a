"""Read PyTorch ``torch.save`` checkpoints into NumPy without torch and without running pickle code.

Threat model: a ``.pth``/``.pt`` file is a pickle, and unpickling an untrusted pickle
normally lets it call any importable function (``os.system``, ``builtins.exec``...).
This reader treats the file as hostile:

* the unpickler resolves only an allow-list of globals, each to a function or marker
  defined here (never to the torch object of that name); any other global raises
  `UnsafeCheckpointError` before anything is called;
* the objects handed to the pickle refuse ``BUILD`` state, so a file cannot patch them;
* tensors are only descriptions until every offset, size and stride has been checked
  against the bytes actually read for their storage;
* byte counts are checked against the file's size before anything is read or
  allocated, so a lying header cannot make the reader allocate gigabytes; each pickle's
  opcodes are walked before it is unpickled, so its length fields and memo indexes
  cannot make the unpickler allocate more than the file holds either;
* every failure surfaces as `CheckpointFormatError` naming the file.

Both the zip format (torch >= 1.6) and the legacy stream format are read.
"""

from __future__ import annotations

import io
import math
import mmap
import os
import pickle
import pickletools
import struct
import zipfile
from collections.abc import Callable
from typing import IO, Any, NamedTuple

import numpy as np

from samcore.errors import CheckpointFormatError, UnsafeCheckpointError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_DIMS = 64
_MAX_EXTENT = 2**48  # no size or stride may exceed this (keeps NumPy byte strides in range)
_MEMO_PUTS = ("PUT", "BINPUT", "LONG_BINPUT")
_OUTPUT_SLACK = 64 << 20  # bytes of output allowed beyond 4x the file size (stride-0 views)


class _StorageType(NamedTuple):
    """Marker for ``torch.<Name>Storage``: its name and on-disk (little-endian) dtype."""

    name: str
    disk_dtype: np.dtype


class _Storage(NamedTuple):
    """A storage named by a persistent id; its bytes are read only when a tensor needs them."""

    key: str
    stype: _StorageType
    numel: int


class _TensorRef(NamedTuple):
    """An unvalidated tensor description produced by the pickle."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


class _StateDict(dict):
    """What ``collections.OrderedDict`` unpickles to; the ``_metadata`` state is dropped."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        pass


class _Global:
    """A callable allow-listed global that refuses to have its state set by the pickle."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setstate__(self, state: object) -> None:
        raise CheckpointFormatError("pickle tried to set state on an allow-listed global")


def _int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or len(value) > _MAX_DIMS:
        raise CheckpointFormatError(f"tensor {what} is not a tuple of at most {_MAX_DIMS} ints")
    for item in value:
        if type(item) is not int or not 0 <= item <= _MAX_EXTENT:
            raise CheckpointFormatError(f"tensor {what} {value!r} holds a negative, huge or non-int value")
    return value


def _rebuild_tensor(storage: object, offset: object, size: object, stride: object, *_: object) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor(_v2)``: records the view, checks types."""
    if not isinstance(storage, _Storage):
        raise CheckpointFormatError("tensor is not backed by a storage record")
    if type(offset) is not int or not 0 <= offset <= _MAX_EXTENT:
        raise CheckpointFormatError(f"tensor storage offset {offset!r} is negative, huge or not an int")
    shape, strides = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(shape) != len(strides):
        raise CheckpointFormatError(f"tensor size {shape} and stride {strides} differ in length")
    return _TensorRef(storage, offset, shape, strides)


def _rebuild_parameter(data: object, *_: object) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_parameter``: a Parameter is just its data."""
    if not isinstance(data, _TensorRef):
        raise CheckpointFormatError("nn.Parameter does not wrap a tensor")
    return data


# On-disk dtypes; BFloat16 and Bool are read as raw integers and converted by `_decode`.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "u1",
}

_ALLOWED: dict[tuple[str, str], object] = {
    ("torch._utils", "_rebuild_tensor_v2"): _Global(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor"): _Global(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Global(_rebuild_parameter),
    ("collections", "OrderedDict"): _Global(_StateDict),
    **{("torch", name): _StorageType(name, np.dtype(code)) for name, code in _STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; turns storage persistent ids into `_Storage`."""

    def __init__(self, file: IO[bytes] | mmap.mmap, storages: dict[str, _Storage] | None) -> None:
        super().__init__(file, encoding="utf-8")
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(f"refused pickle global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> _Storage:
        if self._storages is None:
            raise CheckpointFormatError("unexpected persistent id outside the main pickle")
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise CheckpointFormatError(f"unsupported persistent id {pid!r:.80}")
        _, stype, key, _location, numel, *view = pid
        if not isinstance(stype, _StorageType) or not isinstance(key, str):
            raise CheckpointFormatError(f"malformed storage persistent id {pid!r:.80}")
        if type(numel) is not int or numel < 0:
            raise CheckpointFormatError(f"storage {key!r} has invalid element count {numel!r}")
        if view and view[0] is not None:
            raise CheckpointFormatError(f"storage {key!r} is a legacy storage view, which is not supported")
        storage = self._storages.setdefault(key, _Storage(key, stype, numel))
        if storage != (key, stype, numel):
            raise CheckpointFormatError(f"storage {key!r} is declared with two different types or sizes")
        return storage


def _unpickle(stream: IO[bytes] | mmap.mmap, storages: dict[str, _Storage] | None) -> Any:
    """Unpickle one pickle from an in-memory or mapped stream, after checking its opcodes.

    The C unpickler allocates a BINBYTES/BYTEARRAY buffer of the declared length before
    reading it, and grows its memo table to the largest PUT index it sees. Walking the
    opcodes first (``pickletools.genops`` reads without preallocating) proves every declared
    length is backed by real bytes and every memo index is no larger than the pickle.
    """
    start = stream.tell()
    for opcode, arg, pos in pickletools.genops(stream):
        if opcode.name in _MEMO_PUTS and arg > pos:
            raise CheckpointFormatError(f"pickle memo index {arg} at byte {pos} is out of range")
    stream.seek(start)
    return _RestrictedUnpickler(stream, storages).load()


def _has_tensors(obj: object) -> bool:
    return isinstance(obj, dict) and any(isinstance(v, _TensorRef) for v in obj.values())


def _select_state_dict(obj: object) -> dict[str, _TensorRef]:
    """Pick the tensors of a state_dict, or of a single nested ``model``/``state_dict``."""
    if not isinstance(obj, dict):
        raise CheckpointFormatError(f"top-level object is a {type(obj).__name__}, not a dict of tensors")
    if not _has_tensors(obj):
        nested = [obj[k] for k in ("model", "state_dict") if _has_tensors(obj.get(k))]
        if len(nested) > 1:
            raise CheckpointFormatError("both 'model' and 'state_dict' hold tensors; which one is meant is ambiguous")
        if nested:
            obj = nested[0]
    tensors: dict[str, _TensorRef] = {}
    for key, value in obj.items():
        if isinstance(value, _TensorRef):
            if not isinstance(key, str):
                raise CheckpointFormatError(f"state_dict key {key!r:.80} is not a string")
            tensors[key] = value
    if obj and not tensors:
        raise CheckpointFormatError("the checkpoint holds no tensors")
    return tensors


def _to_array(name: str, ref: _TensorRef, storage: np.ndarray) -> np.ndarray:
    """Check the view against the storage's real length, then copy it out contiguously."""
    # The last element a view touches must lie inside the storage; an empty view may sit at its very end.
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides, strict=True))
    if (last if math.prod(ref.shape) else ref.offset - 1) >= len(storage):
        raise CheckpointFormatError(
            f"tensor {name!r} (offset {ref.offset}, size {ref.shape}, stride {ref.strides}) "
            f"reaches past its storage of {len(storage)} elements"
        )
    base = storage[ref.offset :]
    strides = tuple(s * base.itemsize for s in ref.strides)
    view = np.lib.stride_tricks.as_strided(base, ref.shape, strides, writeable=False)
    return view.copy()


def _materialize(
    tensors: dict[str, _TensorRef], load: Callable[[_Storage], np.ndarray], file_size: int
) -> dict[str, np.ndarray]:
    budget = 4 * file_size + _OUTPUT_SLACK
    cache: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for name, ref in tensors.items():
        if ref.storage.key not in cache:
            cache[ref.storage.key] = load(ref.storage)
        storage = cache[ref.storage.key]
        budget -= math.prod(ref.shape) * storage.itemsize
        if budget < 0:
            raise CheckpointFormatError(f"tensor {name!r} expands the checkpoint far beyond its file size")
        out[name] = _to_array(name, ref, storage)
    return out


def _decode(raw: bytes, stype: _StorageType) -> np.ndarray:
    """Turn a storage's bytes into a 1-D array; bfloat16 widens exactly to float32 (its top 16 bits)."""
    array = np.frombuffer(raw, dtype=stype.disk_dtype)
    if stype.name == "BFloat16Storage":
        return (array.astype(np.uint32) << 16).view(np.float32)
    if stype.name == "BoolStorage":
        return array != 0
    return array


def _read_entry(zf: zipfile.ZipFile, name: str, nbytes: int | None, limit: int) -> bytes:
    """Read ``nbytes`` (default: all) of a zip entry, refusing sizes beyond ``limit``."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CheckpointFormatError(f"the archive has no record {name!r}") from None
    wanted = info.file_size if nbytes is None else nbytes
    if info.file_size < wanted:
        raise CheckpointFormatError(f"record {name!r} holds {info.file_size} bytes but {wanted} are needed")
    if wanted > limit:
        raise CheckpointFormatError(f"record {name!r} declares {wanted} bytes, more than the file can hold")
    with zf.open(info) as f:
        data = f.read(wanted)
    if len(data) != wanted:
        raise CheckpointFormatError(f"record {name!r} is truncated")
    return data


def _read_zip(path: str, file_size: int) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise CheckpointFormatError(f"expected one '<prefix>/data.pkl' record, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        if prefix + "byteorder" in zf.namelist():
            order = _read_entry(zf, prefix + "byteorder", None, 16)
            if order != b"little":
                raise CheckpointFormatError(f"byte order {order[:16]!r} is not supported (only 'little')")
        storages: dict[str, _Storage] = {}
        obj = _unpickle(io.BytesIO(_read_entry(zf, pickles[0], None, file_size)), storages)
        tensors = _select_state_dict(obj)
        remaining = file_size  # stored records cannot add up to more than the archive

        def load(storage: _Storage) -> np.ndarray:
            nonlocal remaining
            nbytes = storage.numel * storage.stype.disk_dtype.itemsize
            raw = _read_entry(zf, f"{prefix}data/{storage.key}", nbytes, remaining)
            remaining -= nbytes
            return _decode(raw, storage.stype)

        return _materialize(tensors, load, file_size)


def _read_legacy_storages(f: mmap.mmap, storages: dict[str, _Storage]) -> dict[str, np.ndarray]:
    """Read the storage-key pickle, then each storage's element count and raw bytes."""
    keys = _unpickle(f, None)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointFormatError("the storage key list is not a list of strings")
    arrays: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in storages:
            raise CheckpointFormatError(f"storage {key!r} has data but no tensor declares its type")
        header = f.read(8)
        if len(header) != 8:
            raise CheckpointFormatError(f"file ends before the size of storage {key!r}")
        (numel,) = struct.unpack("<q", header)
        nbytes = numel * storages[key].stype.disk_dtype.itemsize
        if not 0 <= nbytes <= len(f) - f.tell():
            raise CheckpointFormatError(f"storage {key!r} declares {numel} elements, more than the file holds")
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise CheckpointFormatError(f"storage {key!r} is truncated")
        arrays[key] = _decode(raw, storages[key].stype)
    return arrays


def _read_legacy(path: str, file_size: int) -> dict[str, np.ndarray]:
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as f:
        magic = _unpickle(f, None)
        if type(magic) is not int or magic != _LEGACY_MAGIC:
            raise CheckpointFormatError("neither a zip archive nor a legacy torch.save stream (bad magic number)")
        protocol = _unpickle(f, None)
        if type(protocol) is not int or protocol != _LEGACY_PROTOCOL:
            raise CheckpointFormatError(f"unsupported legacy protocol version {protocol!r:.40}")
        sys_info = _unpickle(f, None)
        if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
            raise CheckpointFormatError("big-endian or unknown byte order is not supported (only little-endian)")
        storages: dict[str, _Storage] = {}
        tensors = _select_state_dict(_unpickle(f, storages))
        arrays = _read_legacy_storages(f, storages)

    def load(storage: _Storage) -> np.ndarray:
        if storage.key not in arrays:
            raise CheckpointFormatError(f"storage {storage.key!r} has no data in the file")
        return arrays[storage.key]

    return _materialize(tensors, load, file_size)


def _read(path: str) -> dict[str, np.ndarray]:
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise CheckpointFormatError("the file is empty")
    if head in (b"PK\x03\x04", b"PK\x05\x06"):
        return _read_zip(path, file_size)
    return _read_legacy(path, file_size)


def read_pth(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a torch.save'd state_dict (zip or legacy format) as {key: array}, executing no pickle code.

    Tensors come back as contiguous, writable NumPy arrays (bfloat16 is widened to
    float32 exactly). A dict whose tensors all sit under ``"model"`` or ``"state_dict"``
    yields that nested dict; non-tensor values of a state_dict are skipped.

    Raises:
        UnsafeCheckpointError: the pickle references a global outside the allow-list.
        CheckpointFormatError: the file is missing, truncated, corrupt, big-endian, or
            is not a dict of tensors.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        got = "a folder" if os.path.isdir(name) else "no such file"
        raise CheckpointFormatError(f"{name}: expected a checkpoint file, got {got}")
    try:
        return _read(name)
    except UnsafeCheckpointError as exc:
        raise UnsafeCheckpointError(f"{name}: {exc}") from None
    except CheckpointFormatError as exc:
        raise CheckpointFormatError(f"{name}: {exc}") from None
    except Exception as exc:  # every other failure means a corrupt file
        raise CheckpointFormatError(f"{name}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from exc
