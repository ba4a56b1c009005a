"""What the service tells clients about its model, and the decoder it ships to browsers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import samcore
from samcore.cache import cache_dir, write_atomic

#: The ONNX opset of the exported browser decoder (onnxruntime-web 1.30 runs up to 21+).
OPSET = 17


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """The model a service encodes with: ``sha256`` of its weights file (the model id),
    ``img_size`` of the encoder's square input frame (pixels), ``grid`` (h, w) and
    ``embed_dim`` C of its embeddings [1, C, h, w], ``preprocessing`` version."""

    weights: Path
    sha256: str
    name: str
    img_size: int
    grid: tuple[int, int]
    embed_dim: int
    preprocessing: str

    def describe(self) -> dict:
        """The model as ``GET /v1/models`` lists it."""
        return {
            "id": self.sha256,
            "name": self.name,
            "img_size": self.img_size,
            "grid": list(self.grid),
            "embed_dim": self.embed_dim,
            "preprocessing": self.preprocessing,
            "payload_dtypes": ["float16", "float32"],
            "decoder_onnx": f"/v1/models/{self.sha256}/decoder.onnx",
        }


def meta_decoder_onnx(model: ModelInfo) -> Path:
    """The model's decoder as Meta's ONNX interface (``samcore export onnx W --interface meta
    --single-mask``) for the model's grid, exported once into the samcore cache folder.

    The file name holds the weights hash, grid, opset, samcore's version and the
    exporter's source fingerprint, so a changed model or exporter is exported anew.
    """
    from samcore_onnx import export_onnx
    from samcore_onnx.export import exporter_fingerprint

    from samcore.weights import load_decoder_params

    h, w = model.grid
    name = (f"decoder-{model.sha256}-meta-single-{h}x{w}-opset{OPSET}"
            f"-samcore{samcore.__version__}-{exporter_fingerprint()}.onnx")
    path = cache_dir("onnx") / name
    if not path.is_file():
        params, config = load_decoder_params(model.weights)
        onnx_model = export_onnx(params, config, interface="meta", grid=model.grid, opset=OPSET,
                                 return_single_mask=True)
        write_atomic(path, onnx_model.SerializeToString())
    return path

