"""What the service tells clients about its model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

#: The browser's decoder graphs (``samcore.serve.web_graphs``): per image (when the embedding
#: arrives) and per prompt.
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
