"""Tests for `samcore.weights.pth_reader`: torch.save round trips, hostile pickles, corrupt files."""

from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from samcore.errors import CheckpointFormatError, UnsafeCheckpointError
from samcore.weights.pth_reader import read_pth

torch = pytest.importorskip("torch")

FORMATS = ["zip", "legacy"]
REPO_ROOT = Path(__file__).resolve().parents[1]


def save(obj: object, path: Path, fmt: str) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))
    return path


def expected(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def assert_state_dict_equal(got: dict[str, np.ndarray], want: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(want)
    for key, tensor in want.items():
        ref = expected(tensor)
        assert got[key].dtype == ref.dtype, key
        assert got[key].shape == ref.shape, key
        np.testing.assert_array_equal(got[key], ref, err_msg=key)
        assert got[key].flags.c_contiguous and got[key].flags.writeable, key


# --- round trips ---------------------------------------------------------------------------------

DTYPES = {
    torch.float32: np.float32,
    torch.float16: np.float16,
    torch.float64: np.float64,
    torch.bfloat16: np.float32,
    torch.int64: np.int64,
    torch.int32: np.int32,
    torch.int16: np.int16,
    torch.int8: np.int8,
    torch.uint8: np.uint8,
    torch.bool: np.bool_,
}


def sample(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if dtype == torch.bool:
        return torch.rand(shape, generator=gen) > 0.5
    if dtype.is_floating_point:
        values = torch.randn(shape, generator=gen, dtype=torch.float64) * 100
        values.view(-1)[:3] = torch.tensor([float("inf"), float("-inf"), float("nan")], dtype=torch.float64)
        return values.to(dtype)
    info = torch.iinfo(dtype)
    values = torch.randint(info.min, info.max, shape, generator=gen, dtype=torch.int64).to(dtype)
    values.view(-1)[:2] = torch.tensor([info.min, info.max]).to(dtype)
    return values


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
def test_every_dtype_round_trips(tmp_path: Path, fmt: str, dtype: torch.dtype) -> None:
    values = sample(dtype, (4, 5))
    sd = collections.OrderedDict(a=values, scalar=values[1, 3].clone())
    got = read_pth(save(sd, tmp_path / "w.pth", fmt))
    assert_state_dict_equal(got, sd)
    assert got["a"].dtype == DTYPES[dtype]


@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_storage_views_offsets_and_strides(tmp_path: Path, fmt: str) -> None:
    base = torch.arange(24, dtype=torch.float32)
    sd = {
        "base": base,
        "window": base[5:17].view(3, 4),  # storage offset 5
        "transposed": base.view(4, 6).t(),  # non-contiguous
        "every_third": base[1::3],
        "element": base[7],  # 0-d view with an offset
        "expanded": base[2:3].expand(4, 3),  # stride 0
        "empty": torch.empty(0, 3),
        "empty_view": base[24:],
        "zero_d": torch.tensor(3.5, dtype=torch.float64),
    }
    got = read_pth(save(sd, tmp_path / "w.pth", fmt))
    assert_state_dict_equal(got, sd)
    got["base"][:] = -1  # outputs are independent copies, not views of one buffer
    assert got["window"][0, 0] == 5 and got["transposed"][1, 0] == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_module_parameters_and_int64_buffers(tmp_path: Path, fmt: str) -> None:
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    module(torch.randn(5, 3))  # moves the running stats and num_batches_tracked (an int64 0-d buffer)
    module[0].bias.requires_grad_(False)
    sd = module.state_dict(keep_vars=True)  # nn.Parameter values, not plain tensors
    assert isinstance(sd["0.weight"], torch.nn.Parameter)
    got = read_pth(save(sd, tmp_path / "w.pth", fmt))
    assert_state_dict_equal(got, sd)
    assert got["1.num_batches_tracked"].dtype == np.int64 and got["1.num_batches_tracked"] == 1


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("wrapper", ["model", "state_dict"])
def test_nested_state_dict_is_unwrapped(tmp_path: Path, fmt: str, wrapper: str) -> None:
    sd = torch.nn.Linear(2, 3).state_dict()
    got = read_pth(save({wrapper: sd, "epoch": 7, "note": "x"}, tmp_path / "w.pth", fmt))
    assert_state_dict_equal(got, sd)


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_tensor_values_are_skipped(tmp_path: Path, fmt: str) -> None:
    sd = {"w": torch.ones(2), "epoch": 3, "name": "mobile_sam", "cfg": {"a": 1}, "none": None}
    got = read_pth(save(sd, tmp_path / "w.pth", fmt))
    assert_state_dict_equal(got, {"w": sd["w"]})


def test_empty_state_dict(tmp_path: Path) -> None:
    assert read_pth(save({}, tmp_path / "w.pth", "zip")) == {}


def test_accepts_str_and_pathlike_and_does_not_import_torch(tmp_path: Path) -> None:
    path = save({"w": torch.arange(3)}, tmp_path / "w.pth", "zip")
    assert read_pth(str(path)).keys() == read_pth(path).keys() == {"w"}
    code = (
        "import sys; from samcore.weights.pth_reader import read_pth; "
        f"assert read_pth({str(path)!r})['w'].tolist() == [0, 1, 2]; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


@pytest.mark.parametrize("fmt", FORMATS)
def test_official_segment_anything_modules_round_trip(tmp_path: Path, fmt: str) -> None:
    from samcore.conformance.official import modeling

    torch.manual_seed(0)
    prompt_encoder = modeling.PromptEncoder(
        embed_dim=32, image_embedding_size=(8, 8), input_image_size=(128, 128), mask_in_chans=16
    )
    transformer = modeling.TwoWayTransformer(depth=2, embedding_dim=32, num_heads=2, mlp_dim=64)
    decoder = modeling.MaskDecoder(transformer_dim=32, transformer=transformer, iou_head_hidden_dim=32)
    sd = torch.nn.ModuleDict({"prompt_encoder": prompt_encoder, "mask_decoder": decoder}).state_dict()
    got = read_pth(save(sd, tmp_path / "sam.pth", fmt))
    assert_state_dict_equal(got, sd)
    assert "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix" in got
    assert read_pth(save({"model": sd}, tmp_path / "nested.pth", fmt)).keys() == got.keys()


# --- hand-made pickles and archives --------------------------------------------------------------


class Reduce:
    """Pickles as ``fn(*args)``, so tests can write any pickle torch itself would never write."""

    def __init__(self, fn: object, *args: object) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.fn, self.args


class PersistentId:
    def __init__(self, pid: object) -> None:
        self.pid = pid


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> object:
        return obj.pid if isinstance(obj, PersistentId) else None


def dumps(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def tensor(offset: object, size: object, stride: object, numel: int = 6, key: str = "0") -> Reduce:
    storage = PersistentId(("storage", torch.FloatStorage, key, "cpu", numel))
    return Reduce(torch._utils._rebuild_tensor_v2, storage, offset, size, stride, False, collections.OrderedDict())


FLOATS = np.arange(6, dtype="<f4").tobytes()


def write_zip(
    path: Path, data_pkl: bytes, records: dict[str, bytes] | None = None, byteorder: bytes = b"little"
) -> Path:
    records = {"0": FLOATS} if records is None else records
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", byteorder)
        for key, data in records.items():
            zf.writestr(f"archive/data/{key}", data)
        zf.writestr("archive/version", b"3\n")
    return path


def write_legacy(path: Path, main_pickle: bytes, storages: dict[str, bytes], little_endian: bool = True) -> Path:
    sys_info = {"protocol_version": 1001, "little_endian": little_endian, "type_sizes": {"int": 4}}
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, 2), pickle.dumps(1001, 2), pickle.dumps(sys_info, 2), main_pickle]
    parts.append(pickle.dumps(sorted(storages), 2))
    for key in sorted(storages):
        parts.append(struct.pack("<q", len(storages[key]) // 4) + storages[key])
    path.write_bytes(b"".join(parts))
    return path


def test_hand_made_archives_are_read(tmp_path: Path) -> None:
    sd = {"t": tensor(2, (2, 2), (1, 2)), "empty": tensor(6, (0,), (1,))}
    want = {"t": np.array([[2, 4], [3, 5]], np.float32), "empty": np.zeros(0, np.float32)}
    for got in (
        read_pth(write_zip(tmp_path / "a.pth", dumps(sd))),
        read_pth(write_legacy(tmp_path / "b.pth", dumps(sd), {"0": FLOATS})),
    ):
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])


# --- hostile pickles -----------------------------------------------------------------------------


def payloads(sentinel: Path) -> list[Reduce]:
    return [
        Reduce(os.system, f"touch {sentinel}"),
        Reduce(builtins.exec, f"open({str(sentinel)!r}, 'w').close()"),
    ]


def test_hostile_payload_really_runs_under_plain_pickle(tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"
    pickle.loads(pickle.dumps(payloads(sentinel)[1]))  # proves the payloads below are live
    assert sentinel.exists()


@pytest.mark.parametrize("which", [0, 1], ids=["os.system", "builtins.exec"])
@pytest.mark.parametrize("container", ["raw_pickle", "zip_data_pkl", "torch_save_zip", "torch_save_legacy"])
def test_hostile_pickle_is_refused(tmp_path: Path, which: int, container: str) -> None:
    sentinel = tmp_path / "pwned"
    evil = payloads(sentinel)[which]
    path = tmp_path / "evil.pth"
    if container == "raw_pickle":
        path.write_bytes(pickle.dumps({"w": evil}))
    elif container == "zip_data_pkl":
        write_zip(path, pickle.dumps({"w": evil}, protocol=2))
    else:
        save({"w": torch.ones(2), "x": evil}, path, container.removeprefix("torch_save_"))
    with pytest.raises(UnsafeCheckpointError, match=r"(system|exec)") as excinfo:
        read_pth(path)
    assert str(path) in str(excinfo.value)
    assert not sentinel.exists()


def test_other_torch_globals_are_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "w.pth", dumps({"m": Reduce(torch.nn.Linear, 2, 3)}))
    with pytest.raises(UnsafeCheckpointError, match=r"torch\.nn\.modules\.linear\.Linear"):
        read_pth(path)


def test_pickle_cannot_patch_allow_listed_globals(tmp_path: Path) -> None:
    # GLOBAL _rebuild_tensor_v2; BUILD (None, {"__defaults__": (1,)}) would set a function attribute.
    patch = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00\x00__defaults__K\x01\x85s\x86b."
    with pytest.raises(CheckpointFormatError, match="state"):
        read_pth(write_zip(tmp_path / "w.pth", patch))
    good = read_pth(write_zip(tmp_path / "ok.pth", dumps({"t": tensor(0, (6,), (1,))})))
    np.testing.assert_array_equal(good["t"], np.arange(6))


# --- corrupt and unsupported files ---------------------------------------------------------------


def assert_format_error(path: Path, match: str | None = None) -> CheckpointFormatError:
    with pytest.raises(CheckpointFormatError, match=match) as excinfo:
        read_pth(path)
    assert str(path) in str(excinfo.value)
    return excinfo.value


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files(tmp_path: Path, fmt: str) -> None:
    data = save(torch.nn.Linear(8, 8).state_dict(), tmp_path / "full.pth", fmt).read_bytes()
    for cut in (1, 4, 10, 50, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 1):
        path = tmp_path / f"cut{cut}.pth"
        path.write_bytes(data[:cut])
        assert_format_error(path)


@pytest.mark.parametrize("prefix", [b"", b"PK\x03\x04", b"\x80\x02"])
@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path: Path, prefix: bytes, seed: int) -> None:
    path = tmp_path / "noise.pth"
    path.write_bytes(prefix + np.random.default_rng(seed).bytes(4096))
    assert_format_error(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.pth").write_bytes(b"")
    assert_format_error(tmp_path / "empty.pth", "empty")
    assert_format_error(tmp_path / "missing.pth")


def test_plain_pickle_without_torch_header(tmp_path: Path) -> None:
    (tmp_path / "w.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    assert_format_error(tmp_path / "w.pkl", "magic")


def test_zip_missing_storage_record(tmp_path: Path) -> None:
    assert_format_error(write_zip(tmp_path / "w.pth", dumps({"t": tensor(0, (6,), (1,))}), {}), "data/0")


def test_zip_storage_record_shorter_than_needed(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "w.pth", dumps({"t": tensor(0, (6,), (1,))}), {"0": FLOATS[:12]})
    assert_format_error(path, "holds 12 bytes")


def test_storage_size_lie_is_refused_before_allocating(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "w.pth", dumps({"t": tensor(0, (6,), (1,), numel=10**12)}))
    assert_format_error(path, "bytes")
    header = struct.pack("<q", 2**40)  # legacy: an element count far beyond the file
    main = dumps({"t": tensor(0, (6,), (1,))})
    path = write_legacy(tmp_path / "l.pth", main, {"0": FLOATS})
    data = path.read_bytes()
    path.write_bytes(data.replace(struct.pack("<q", 6) + FLOATS, header + FLOATS))
    assert_format_error(path, "more than the file holds")


def test_stride_zero_expansion_bomb_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "w.pth", dumps({"t": tensor(0, (2**20, 2**20), (0, 0))}))
    assert_format_error(path, "expands")


@pytest.mark.parametrize(
    ("offset", "size", "stride", "match"),
    [
        (5, (2,), (1,), "reaches past"),
        (0, (3, 3), (3, 1), "reaches past"),
        (0, (2, 3), (1, 4), "reaches past"),  # transposed view running off the end
        (7, (0,), (1,), "reaches past"),
        (2**40, (1,), (1,), "offset"),
        (-1, (2,), (1,), "offset"),
        (0, (2,), (-1,), "stride"),
        (0, (-2,), (1,), "size"),
        (0, (2, 2), (1,), "differ"),
        (0, [2], [1], "size"),
        (0.5, (2,), (1,), "offset"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_view_outside_storage(
    tmp_path: Path, fmt: str, offset: object, size: object, stride: object, match: str
) -> None:
    main = dumps({"t": tensor(offset, size, stride)})
    path = tmp_path / "w.pth"
    write_zip(path, main) if fmt == "zip" else write_legacy(path, main, {"0": FLOATS})
    assert_format_error(path, match)


def test_big_endian_is_refused(tmp_path: Path) -> None:
    main = dumps({"t": tensor(0, (6,), (1,))})
    assert_format_error(write_zip(tmp_path / "z.pth", main, byteorder=b"big"), "big")
    assert_format_error(write_legacy(tmp_path / "l.pth", main, {"0": FLOATS}, little_endian=False), "big-endian")


@pytest.mark.parametrize("fmt", FORMATS)
def test_top_level_must_be_a_dict_of_tensors(tmp_path: Path, fmt: str) -> None:
    assert_format_error(save([torch.ones(2)], tmp_path / "list.pth", fmt), "list")
    assert_format_error(save(torch.ones(2), tmp_path / "tensor.pth", fmt), "not a dict")
    assert_format_error(save({"epoch": 3}, tmp_path / "no_tensors.pth", fmt), "no tensors")
    ambiguous = {"model": {"a": torch.ones(1)}, "state_dict": {"b": torch.ones(1)}}
    assert_format_error(save(ambiguous, tmp_path / "ambiguous.pth", fmt), "ambiguous")


def test_malformed_persistent_ids(tmp_path: Path) -> None:
    module_pid = {"t": Reduce(torch._utils._rebuild_parameter, PersistentId(("module", "x.py", "src")), False)}
    assert_format_error(write_zip(tmp_path / "a.pth", dumps(module_pid)), "persistent id")
    not_a_tensor = {"t": Reduce(torch._utils._rebuild_parameter, [1, 2], False)}
    assert_format_error(write_zip(tmp_path / "b.pth", dumps(not_a_tensor)), "Parameter")
    conflicting = {"a": tensor(0, (6,), (1,)), "b": tensor(0, (3,), (1,), numel=3)}
    assert_format_error(write_zip(tmp_path / "c.pth", dumps(conflicting)), "two different")


def test_pickle_length_and_memo_lies_are_refused_quickly(tmp_path: Path) -> None:
    # BINBYTES8 claiming 1 TiB, and LONG_BINPUT growing the C unpickler's memo to 2**31 slots.
    huge_bytes = b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"x."
    assert_format_error(write_zip(tmp_path / "bytes.pth", huge_bytes))
    assert_format_error(write_zip(tmp_path / "memo.pth", b"\x80\x02}r\xff\xff\xff\x7f."), "memo")
    (tmp_path / "raw.pth").write_bytes(huge_bytes)
    assert_format_error(tmp_path / "raw.pth")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_files_fail_cleanly(tmp_path: Path, fmt: str) -> None:
    base = torch.arange(12, dtype=torch.float32)
    sd = {"a": base, "t": base.view(3, 4).t(), "b": torch.tensor([True, False]), "n": torch.tensor(5)}
    data = save(sd, tmp_path / "w.pth", fmt).read_bytes()
    if fmt == "zip":  # mutate the pickle itself (the archive's CRC would catch most flips)
        with zipfile.ZipFile(tmp_path / "w.pth") as zf:
            records = {name: zf.read(name) for name in zf.namelist()}
        pkl = next(name for name in records if name.endswith("/data.pkl"))
    rng = np.random.default_rng(0)
    for i in range(300):
        blob = bytearray(records[pkl] if fmt == "zip" else data)
        for pos in rng.integers(len(blob), size=rng.integers(1, 4)):
            blob[pos] = rng.integers(256)
        path = tmp_path / f"m{i}.pth"
        if fmt == "zip":
            with zipfile.ZipFile(path, "w") as zf:
                for name, value in records.items():
                    zf.writestr(name, bytes(blob) if name == pkl else value)
        else:
            path.write_bytes(blob)
        try:
            read_pth(path)
        except CheckpointFormatError as exc:
            assert str(path) in str(exc)
