"""The samcore console script as a newcomer meets it: every error is one line on stderr
(usage: exit 2, failure: exit 1) naming what was expected, what came and the fix; no
traceback unless --debug; --version, python -m samcore, help on every argument."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from samcore.cli import build_parser
from samcore.extras import DISTRIBUTION
from samcore.weights import default_weights_path, load_decoder_params

#: The default model's embedding channels (what ``predict --embedding`` expects).
EMBED_DIM = load_decoder_params(default_weights_path())[1].embed_dim


def one_line_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    """The single stderr line of a failed run, checked for ``code`` and each fragment."""
    lines = result.stderr.splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "error:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


USAGE_ERRORS = {
    "point with one number": (["predict", "--point", "300"], ["--point", "x,y", "'300'", "fix:"]),
    "point of letters": (["predict", "--point", "a,b"], ["--point", "'a,b'", "300,200"]),
    "point label 5": (["predict", "--point", "1,2,5"], ["--point", "label", "'1,2,5'"]),
    "box of three": (["predict", "--box", "1,2,3"], ["--box", "x0,y0,x1,y1", "'1,2,3'", "50,40,400,300"]),
    "box reversed": (["predict", "--box", "50,40,30,300"], ["--box", "x0 <= x1", "30,40,50,300"]),
    "size zero": (["predict", "--original-size", "0,0"], ["--original-size", "H,W", "'0,0'", "480,640"]),
    "size with an x": (["predict", "--original-size", "480x640"], ["--original-size", "'480x640'", "480,640"]),
    "size negative": (["predict", "--original-size=-480,640"], ["--original-size", "'-480,640'"]),
    "point outside the image": (["predict", "--point", "700,200", "--original-size", "480,640"],
                                ["--point", "0..640", "0..480", "'700,200'", "--original-size"]),
    "box outside the image": (["predict", "--box", "0,0,100,500", "--original-size", "480,640"], ["--box", "0..480"]),
    "embedding is not a .npy": (["predict", "--embedding", "notes.txt"], ["--embedding", ".npy", "notes.txt"]),
    "embedding is text named .npy": (["predict", "--embedding", "text.npy"], ["--embedding", "not a readable"]),
    "embedding of the wrong shape": (["predict", "--embedding", "small.npy"],
                                     ["--embedding", f"[1, {EMBED_DIM}, h, w]", "[3"]),
    "embedding with NaN": (["predict", "--embedding", "nan.npy"], ["--embedding", "finite", "nan.npy"]),
    "weights are a .pth": (["predict", "--weights", "sam.pth"], ["--weights", "samcore convert sam.pth"]),
    "weights missing": (["predict", "--weights", "missing.safetensors"], ["--weights", "no such file"]),
    "unknown backend": (["predict", "--backend", "nope"], ["--backend", "'nope'", "samcore backends"]),
    "out of another kind": (["predict", "--out", "mask.txt"], ["--out", ".png or .npz", "'mask.txt'"]),
    "out in a missing folder": (["predict", "--out", "nodir/mask.png"], ["--out", "existing folder", "mkdir -p"]),
    "convert a missing file": (["convert", "missing.pth", "out.safetensors"], ["source", "no such file", "missing"]),
    "convert into a missing folder": (["convert", "sam.pth", "nodir/out.safetensors"], ["target", "mkdir -p nodir"]),
    "random weights into a missing folder": (["random-weights", "nodir/r.safetensors"], ["target", "mkdir -p nodir"]),
    "random weights not .safetensors": (["random-weights", "r.bin"], ["target", ".safetensors", "'r.bin'"]),
    "export without output": (["export", "onnx", "DEFAULT"], ["-o/--output", "--help"]),
    "export into a missing folder": (["export", "tflite", "DEFAULT", "--points", "8", "-o", "no/d.tflite"],
                                     ["--output", "mkdir -p no"]),
    "export zero points": (["export", "tflite", "DEFAULT", "--points", "0", "-o", "d.tflite"], ["--points", "'0'"]),
    "no command": ([], ["COMMAND", "--help"]),
    "unknown command": (["frobnicate"], ["invalid choice", "'frobnicate'"]),
}


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """A folder with the files the bad command lines name."""
    import numpy as np

    (tmp_path / "notes.txt").write_text("not an array")
    (tmp_path / "text.npy").write_text("not an array either")
    np.save(tmp_path / "small.npy", np.zeros((3, 4), np.float32))
    np.save(tmp_path / "nan.npy", np.full((1, EMBED_DIM, 4, 4), np.nan, np.float32))
    (tmp_path / "sam.pth").write_bytes(b"PK\x03\x04 a torch.save zip would follow")
    return tmp_path


@pytest.mark.parametrize("name", list(USAGE_ERRORS))
def test_usage_errors_are_one_line_exit_2(workdir: Path, run_samcore, name: str) -> None:
    args, fragments = USAGE_ERRORS[name]
    args = [str(default_weights_path()) if a == "DEFAULT" else a for a in args]
    one_line_error(run_samcore(*args), 2, *fragments)


def test_random_weights_refuses_to_overwrite_without_force(tmp_path: Path, run_samcore) -> None:
    (tmp_path / "r.safetensors").write_bytes(b"mine")
    one_line_error(run_samcore("random-weights", "r.safetensors"), 2, "target", "exists", "--force")
    assert (tmp_path / "r.safetensors").read_bytes() == b"mine"
    assert run_samcore("random-weights", "r.safetensors", "--force").returncode == 0
    assert (tmp_path / "r.safetensors").stat().st_size > 1_000_000


def test_random_weights_with_one_seed_are_the_same_bytes(tmp_path: Path, run_samcore) -> None:
    for name in ("a.safetensors", "b.safetensors"):
        assert run_samcore("random-weights", name, "--seed", "3").returncode == 0
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    assert (tmp_path / "a.safetensors").stat().st_mode & 0o777 == 0o644  # the fixture's processes: umask 022
    assert run_samcore("random-weights", "c.safetensors", "--seed", "4").returncode == 0
    assert (tmp_path / "c.safetensors").read_bytes() != (tmp_path / "a.safetensors").read_bytes()


def test_failures_are_one_line_exit_1(tmp_path: Path, run_samcore) -> None:
    (tmp_path / "corrupt.pth").write_bytes(b"PK\x03\x04 truncated")
    one_line_error(run_samcore("convert", "corrupt.pth", "out.safetensors"), 1, "corrupt.pth")
    (tmp_path / "torch.safetensors").write_bytes(b"\x80\x02 a legacy torch.save pickle")
    one_line_error(run_samcore("predict", "--weights", "torch.safetensors"), 1,
                   "PyTorch checkpoint", "samcore convert torch.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_debug_shows_the_traceback(tmp_path: Path, run_samcore) -> None:
    (tmp_path / "corrupt.pth").write_bytes(b"PK\x03\x04 truncated")
    for args in (["--debug", "convert"], ["convert", "--debug"]):
        result = run_samcore(*args, "corrupt.pth", "out.safetensors")
        assert result.returncode == 1 and "Traceback" in result.stderr and "CheckpointFormatError" in result.stderr


def test_export_without_its_extra_names_the_pip_line(tmp_path: Path, run_samcore) -> None:
    """onnx made unimportable (a stub package that raises as a missing one does)."""
    stub = tmp_path / "stub" / "onnx"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'onnx'\", name='onnx')\n")
    env = {"PYTHONPATH": str(tmp_path / "stub")}
    weights = str(default_weights_path())
    for kind, options in (("onnx", []), ("tflite", ["--points", "8"])):
        result = run_samcore("export", kind, weights, "-o", f"d.{kind}", *options, env=env)
        one_line_error(result, 1, f"export {kind}", "'onnx'", f'pip install "{DISTRIBUTION}[{kind}]"')


def test_version_and_python_m_samcore(run_samcore) -> None:
    from samcore import __version__

    expected = f"samcore {__version__} ({DISTRIBUTION})"
    for result in (run_samcore("--version"),
                   subprocess.run([sys.executable, "-m", "samcore", "--version"], capture_output=True, text=True)):
        assert result.returncode == 0 and result.stdout.strip() == expected
    result = run_samcore("--help")
    assert result.returncode == 0 and "cache" in result.stdout and "random-weights" in result.stdout


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += _parsers(child)
    return found


def test_every_argument_has_plain_help() -> None:
    parsers = _parsers(build_parser())
    assert {p.prog for p in parsers} >= {"samcore predict", "samcore export onnx", "samcore cache clear"}
    for parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), parser.prog
            else:
                assert action.help, f"{parser.prog}: {action.option_strings or action.dest} has no help"
        assert "`" not in parser.format_help(), parser.prog
