"""``samcore encode``, ``samcore segment`` and ``samcore random-weights --encoder``, end to end."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from samcore import Embedding, Encoder, Predictor
from samcore.cli import main
from samcore.cli.encode import progress_printer
from samcore.random_weights import SMALL_MODELS

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A whole tiny SAM written by the CLI, and a 53 x 37 picture."""
    folder = tmp_path_factory.mktemp("cli")
    assert main(["random-weights", str(folder / "sam.safetensors"), "--preset", "tiny", "--encoder", "--seed",
                 "2"]) == 0
    picture = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    Image.fromarray(picture).save(folder / "photo.png")
    return folder, picture


def test_random_weights_writes_a_whole_sam(files, capsys) -> None:
    folder, _ = files
    encoder = Encoder.from_weights(folder / "sam.safetensors", backend="numpy")
    assert encoder.config == SMALL_MODELS["tiny"][0]
    assert main(["info", str(folder / "sam.safetensors")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["encoder_config"]["window_size"] == 4 and info["decoder_config"]["embed_dim"] == 32


def test_random_weights_refuses_an_encoder_it_cannot_build(tmp_path, capsys) -> None:
    assert main(["random-weights", str(tmp_path / "m.safetensors"), "--preset", "mobile_sam", "--encoder"]) == 1
    assert "--encoder: mobile_sam has no ViT image encoder" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_encode_writes_the_embedding(files, capsys, dtype: str) -> None:
    folder, picture = files
    out = folder / f"photo.{dtype}.safetensors"
    assert main(["encode", str(folder / "photo.png"), "-w", str(folder / "sam.safetensors"), "-o", str(out),
                 "--dtype", dtype, "--backend", "numpy"]) == 0
    captured = capsys.readouterr()
    assert "block 2/2" in captured.err and "block 1/2" not in captured.err  # not a terminal: the last line only
    embedding = Embedding.load(out)
    expected = Encoder.from_weights(folder / "sam.safetensors", backend="numpy").encode(picture)
    assert embedding.original_size == (37, 53) and embedding.input_size == expected.input_size
    assert embedding.model_id == expected.model_id != ""
    tolerance = 0 if dtype == "float32" else 1e-3 * np.abs(expected.features).max()
    np.testing.assert_allclose(embedding.features, expected.features, rtol=0, atol=tolerance)


def test_progress_is_redrawn_in_a_terminal(monkeypatch, capsys) -> None:
    """On a terminal every block redraws the line (carriage return), the last one ends it."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    on_block = progress_printer("encoding")
    for done in (1, 2):
        on_block(done, 2)
    err = capsys.readouterr().err
    assert err.startswith("\rencoding: block 1/2") and "\rencoding: block 2/2" in err and err.endswith("\n")


def test_segment_writes_the_best_mask_and_an_overlay(files, capsys) -> None:
    folder, picture = files
    mask_path, overlay_path = folder / "mask.png", folder / "overlay.png"
    argv = ["segment", str(folder / "photo.png"), "-w", str(folder / "sam.safetensors"), "--point", "10,20",
            "--point", "30,5,0", "--box", "2,3,40,30", "-o", str(mask_path), "--overlay", str(overlay_path), "-q"]
    assert main(argv) == 0
    assert "(best)" in capsys.readouterr().out
    predictor = Predictor.from_weights(folder / "sam.safetensors", backend="numpy", encoder_backend="numpy")
    predictor.set_image(picture)
    masks, scores, _ = predictor.predict([[10, 20], [30, 5]], [1, 0], [2, 3, 40, 30])
    written = np.asarray(Image.open(mask_path))
    np.testing.assert_array_equal(written, np.where(masks[np.argmax(scores)], 255, 0))
    drawn = np.asarray(Image.open(overlay_path))
    assert drawn.shape == picture.shape and not np.array_equal(drawn, picture)


def test_segment_errors_name_the_file(files, tmp_path, capsys) -> None:
    folder, _ = files
    (tmp_path / "notes.png").write_text("not a picture")
    assert main(["segment", str(tmp_path / "notes.png"), "-w", str(folder / "sam.safetensors"), "-o",
                 str(tmp_path / "m.png")]) == 1
    assert f"{tmp_path / 'notes.png'}: not a picture" in capsys.readouterr().err
