"""samcore never imports a framework or runtime: it works with them all blocked."""

from __future__ import annotations

import subprocess
import sys

BLOCKED = ["torch", "onnx", "onnxruntime", "tflite_runtime", "ai_edge_litert", "tensorflow", "hypothesis", "scipy"]

SCRIPT = f"""
import importlib.abc, sys
BLOCKED = {BLOCKED!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked by test: " + name)
sys.meta_path.insert(0, Block())
import numpy as np
import samcore, samcore.cli, samcore.spec, samcore.weights
dec = samcore.Decoder.from_weights()
out = dec.predict(np.zeros((256, 64, 64), np.float32), [[[10.0, 10.0]]], [[1]])
assert out.low_res_logits.shape == (1, 3, 256, 256)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
print("ok")
"""


def test_samcore_runs_with_frameworks_blocked() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


ENCODER_SCRIPT = SCRIPT.replace(
    """dec = samcore.Decoder.from_weights()
out = dec.predict(np.zeros((256, 64, 64), np.float32), [[[10.0, 10.0]]], [[1]])
assert out.low_res_logits.shape == (1, 3, 256, 256)
""",
    """from samcore.random_weights import SMALL_MODELS, random_encoder_params, random_params
encoder_config, decoder_config = SMALL_MODELS["tiny"]
pred = samcore.Predictor(samcore.Decoder(random_params(decoder_config), decoder_config),
                         samcore.Encoder(random_encoder_params(encoder_config), encoder_config))
pred.set_image(np.zeros((30, 40, 3), np.uint8))
masks, scores, low_res = pred.predict(point_coords=[[10, 10]], point_labels=[1])
assert masks.shape == (3, 30, 40)
""",
)


def test_encoder_and_predictor_run_with_frameworks_blocked() -> None:
    assert ENCODER_SCRIPT != SCRIPT
    result = subprocess.run([sys.executable, "-c", ENCODER_SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
