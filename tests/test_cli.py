"""The samcore command, end to end."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from safetensors.numpy import load_file

from samcore.cli import main
from samcore.config import PRESETS, EncoderConfig
from samcore.random_weights import random_params
from samcore.weights import default_weights_path, load_decoder_params, random_decoder_path


def test_predict_on_the_bundled_default(capsys, tmp_path) -> None:
    out = tmp_path / "masks.npz"
    assert main(["predict", "--point", "300,200", "--point", "100,50,0", "--box", "50,40,400,300",
                 "--original-size", "480,640", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "masks at 480x640" in text and "predicted IoU" in text
    saved = np.load(out)
    assert sorted(saved) == ["iou_predictions", "low_res_logits", "masks"]  # DecoderOutput's names
    assert saved["masks"].shape == (1, 3, 480, 640) and saved["masks"].dtype == bool
    grid = EncoderConfig.from_params(load_file(default_weights_path())).grid_size
    assert saved["low_res_logits"].shape == (1, 3, 4 * grid, 4 * grid) and saved["iou_predictions"].shape == (1, 3)
    assert "example picture" in text
    assert f"wrote {out}" in text and sorted(p.name for p in tmp_path.iterdir()) == ["masks.npz"]


def test_predict_out_png_is_the_best_mask_as_an_image(capsys, tmp_path) -> None:
    image = pytest.importorskip("PIL.Image")
    args = ["predict", "--point", "300,200", "--original-size", "480,640", "--backend", "numpy"]
    assert main([*args, "--out", str(tmp_path / "mask.png")]) == 0
    assert main([*args, "--out", str(tmp_path / "arrays.npz")]) == 0
    assert "wrote " + str(tmp_path / "mask.png") in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays.npz", "mask.png"]  # no mask.png.npz
    png = image.open(tmp_path / "mask.png")
    saved = np.load(tmp_path / "arrays.npz")
    best = int(np.argmax(saved["iou_predictions"][0]))
    assert png.mode == "L" and png.size == (640, 480)
    np.testing.assert_array_equal(np.asarray(png), np.where(saved["masks"][0, best], 255, 0))


def test_predict_single_mask_with_an_embedding_file(capsys, tmp_path) -> None:
    embedding = np.random.default_rng(0).standard_normal((1, 256, 64, 64)).astype(np.float32)
    np.save(tmp_path / "e.npy", embedding)
    weights = str(random_decoder_path())
    assert main(["predict", "--weights", weights, "--embedding", str(tmp_path / "e.npy"), "--single-mask"]) == 0
    assert "image centre" in capsys.readouterr().out


def test_random_weights_info_and_errors(capsys, tmp_path) -> None:
    target = tmp_path / "r.safetensors"
    assert main(["random-weights", str(target), "--seed", "5"]) == 0
    params, config = load_decoder_params(target)
    assert config == PRESETS["sam_vit_b"]
    np.testing.assert_array_equal(params["mask_decoder.iou_token.weight"],
                                  random_params(config, 5)["mask_decoder.iou_token.weight"])
    capsys.readouterr()
    assert main(["info", str(target)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["decoder_parameters"] == 4058340 + 6476 and info["decoder_config"]["embed_dim"] == 256
    with pytest.raises(SystemExit) as exit_:  # a usage error: argparse exits 2
        main(["info", str(tmp_path / "missing.safetensors")])
    assert exit_.value.code == 2 and "no such file" in capsys.readouterr().err


def test_convert_refuses_a_hostile_pickle(capsys, tmp_path) -> None:
    sentinel = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"prompt_encoder.x": Exploit()}))
    assert main(["convert", str(tmp_path / "evil.pth"), str(tmp_path / "out.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "open" in err and not sentinel.exists() and not (tmp_path / "out.safetensors").exists()


def test_convert_a_torch_checkpoint(capsys, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    config = PRESETS["sam_vit_b"]
    state = {k: torch.from_numpy(v) for k, v in random_params(config, 1).items()}
    torch.save(state, tmp_path / "sam.pth")
    assert main(["convert", str(tmp_path / "sam.pth"), str(tmp_path / "sam.safetensors")]) == 0
    assert "4,064,816 parameters" in capsys.readouterr().out
