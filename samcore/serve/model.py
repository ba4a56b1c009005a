"""What the service tells clients about its model, and the decoder graphs it ships to browsers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import samcore
from samcore.cache import cache_dir, write_atomic

#: The ONNX opset of the browser's decoder graphs (onnxruntime-web 1.30 runs up to 21+).
OPSET = 17
#: The browser's decoder graphs: per image (after the embedding arrives), per prompt.
WEB_PARTS = ("image", "prompt")


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
            "web_onnx": {part: f"/v1/models/{self.sha256}/web/{part}.onnx" for part in WEB_PARTS},
        }


def web_decoder_onnx(model: ModelInfo, part: str) -> Path:
    """One of the browser's two decoder graphs for the model's grid (``WEB_PARTS``: "image",
    run once per embedding; "prompt", run per click; ``samcore_onnx.export_web_onnx``),
    exported once (both parts) into the samcore cache folder.

    The file name holds the weights hash, grid, opset, samcore's version and the
    exporter's source fingerprint, so a changed model or exporter is exported anew.
    """
    from samcore_onnx import export_web_onnx
    from samcore_onnx.export import exporter_fingerprint

    from samcore.weights import load_decoder_params

    if part not in WEB_PARTS:
        raise ValueError(f"part: expected one of {list(WEB_PARTS)}, got {part!r}")
    h, w = model.grid
    stem = (f"web-{model.sha256}-{h}x{w}-opset{OPSET}"
            f"-samcore{samcore.__version__}-{exporter_fingerprint()}")
    paths = {name: cache_dir("onnx") / f"{stem}-{name}.onnx" for name in WEB_PARTS}
    if not all(path.is_file() for path in paths.values()):
        params, config = load_decoder_params(model.weights)
        models = export_web_onnx(params, config, grid=model.grid, opset=OPSET)
        for name, onnx_model in zip(WEB_PARTS, models, strict=True):
            write_atomic(paths[name], onnx_model.SerializeToString())
    return paths[part]
